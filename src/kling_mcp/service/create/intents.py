"""Intents without a task id: find their task at Kling by external_task_id, or declare them never created.

An intent stays `creating` when the process died during its create, `unknown` when the create's outcome could not be
learnt. Kling is the only one who knows whether the task exists. If it finds none by the external_task_id, that may
just be its lookup lagging the create (or a create still in flight in another process), so only after a grace
period (`KLING_MCP_STALE_INTENT_AFTER`) is the intent declared `never_created`: terminal, nothing billed, safe to
create again. The same resolution runs for a task's look-up, an element's look-up (and a few stale rows of each
element listing) and, at start, for every open intent (`sweep`): a video task's, and a custom
element's (its creation is a task at Kling, queried by external_task_id the same way).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Generic, Protocol, TypeVar

import anyio

from kling_mcp.api.capabilities import endpoint_named
from kling_mcp.api.client import KlingClient
from kling_mcp.api.errors import KlingError
from kling_mcp.api.models import Task, TaskEndpoint
from kling_mcp.service.create.recorder import JournalRecorder
from kling_mcp.service.custom_elements import ELEMENTS, recording
from kling_mcp.service.journal import CREATING, NEVER_CREATED, UNKNOWN, TaskJournal
from kling_mcp.service.journal.element_rows import ElementEntry

logger = logging.getLogger(__name__)

OPEN_STATUSES = (CREATING, UNKNOWN)
# How many open intents one start-up sweep looks at (the newest first); older ones are resolved on demand.
SWEEP_LIMIT = 200
# How often the start-up sweep tries again to read the open intents while the journal cannot be read (seconds).
SWEEP_RETRY_SECONDS = 5.0


class OpenIntent(Protocol):
    """What the resolver reads of an intent: a video task's journal entry or a custom element's."""

    external_task_id: str
    task_id: str | None
    kling_host: str | None
    status: str
    status_message: str | None
    created_at: float


IntentT = TypeVar("IntentT", bound=OpenIntent)


@dataclass(frozen=True)
class Resolution(Generic[IntentT]):
    """What Kling said about an intent: its task, or the (possibly updated) entry and why nothing more is known."""

    entry: IntentT
    endpoint: TaskEndpoint
    task: Task | None = None
    note: str | None = None
    error: KlingError | None = None  # why Kling could not be asked: whether it made the task is still unknown


class IntentResolver:
    """Finds the task behind an intent, waiting for it within a deadline, and retires intents Kling never saw."""

    def __init__(
        self,
        client: KlingClient,
        journal: TaskJournal,
        recorder: JournalRecorder,
        *,
        grace_seconds: float,
        poll_interval: float,
        kling_host: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._journal = journal
        self._recorder = recorder
        self._grace = grace_seconds
        self._kling_host = kling_host  # only intents made against this Kling API are this resolver's to judge
        self._poll = poll_interval
        self._clock = clock
        self._wall_clock = wall_clock
        self._born = wall_clock()  # intents written after this are this process's own, still in flight

    async def resolve(self, entry: IntentT, endpoint: TaskEndpoint, deadline: float) -> Resolution[IntentT]:
        """Ask Kling by the entry's external_task_id until it answers with a task, the grace ends, or the deadline."""
        while True:
            try:
                task = await self._client.find_task(endpoint, entry.external_task_id, deadline=deadline)
            except KlingError as exc:
                return Resolution(entry, endpoint, note=f"did not wait: Kling could not be asked ({exc})", error=exc)
            if task is not None:
                self._recorder.defer(entry.external_task_id, self._adoption(entry, endpoint, task), essential=True)
                return Resolution(entry, endpoint, task=task)
            if entry.status not in OPEN_STATUSES:
                return Resolution(entry, endpoint, note="did not wait: no task exists for this call")
            age = self._wall_clock() - entry.created_at
            if age >= self._grace:
                return Resolution(await self._retire(entry, age), endpoint, note="did not wait: Kling never made it")
            remaining = deadline - self._clock()
            if remaining <= 0:
                left = self._grace - age
                return Resolution(
                    entry,
                    endpoint,
                    note=f"Kling does not know this task yet; if it still does not in {left:.0f} s, it is declared "
                    "never created",
                )
            await anyio.sleep(min(self._poll, remaining))

    def judges(self, entry: OpenIntent) -> bool:
        """True for an intent made against this resolver's Kling API (or before hosts were journaled): another
        Kling API's would look never created here."""
        return entry.kling_host in (None, self._kling_host)

    def is_due(self, entry: OpenIntent) -> bool:
        """True for an open intent without a task id, this resolver's to judge, past its grace period: one look-up by
        its external_task_id now settles it (adopted, or never created) unless Kling cannot be asked."""
        stale = self._wall_clock() - entry.created_at >= self._grace
        return entry.task_id is None and entry.status in OPEN_STATUSES and self.judges(entry) and stale

    def _adoption(self, entry: OpenIntent, endpoint: TaskEndpoint, task: Task) -> Callable[[], None]:
        """The journal write that records the task Kling made for the intent (the id of a created task)."""
        if isinstance(entry, ElementEntry):
            return recording(self._journal, entry.external_task_id, task)
        return partial(self._journal.record_task, task, entry.external_task_id, endpoint, self._kling_host)

    async def _retire(self, entry: IntentT, age: float) -> IntentT:
        """Mark the intent never created (Kling has no task by its external_task_id after the grace period)."""
        message = (
            f"Kling still had no task with external_task_id {entry.external_task_id} {age:.0f} s after the create "
            f"was attempted (grace {self._grace:g} s, KLING_MCP_STALE_INTENT_AFTER): the create never reached "
            "Kling and nothing was billed."
        )
        logger.info("intent %s declared never created", entry.external_task_id)
        if isinstance(entry, ElementEntry):
            write = partial(self._journal.record_element, entry.external_task_id, NEVER_CREATED, message=message)
        else:
            write = partial(self._journal.record_status, entry.external_task_id, NEVER_CREATED, message)
        await self._recorder.write(entry.external_task_id, write)
        entry.status, entry.status_message = NEVER_CREATED, message
        return entry

    async def sweep(self, *, retry_interval: float = SWEEP_RETRY_SECONDS) -> int:
        """Resolve the open intents (video tasks', elements') earlier processes left (at start): adopt tasks Kling
        made, retire the unseen.

        While the journal cannot be read (a database still starting, say) it is tried again every `retry_interval`
        seconds until it answers: the sweep is not skipped for good because the journal was down at the first call.
        """
        failures = 0
        while True:
            try:
                entries = await anyio.to_thread.run_sync(self._open_intents)
                break
            except Exception as exc:
                failures += 1
                log = logger.warning if failures == 1 else logger.debug
                log(
                    "could not read open intents from the task journal (%s); trying again every %g s",
                    exc,
                    retry_interval,
                )
                await anyio.sleep(retry_interval)
        if failures:
            logger.info("task journal readable again after %d failed attempts: sweeping open intents", failures)
        resolved = 0
        for entry, endpoint in entries:
            outcome = await self.resolve(entry, endpoint, deadline=self._clock())
            resolved += outcome.task is not None or outcome.entry.status == NEVER_CREATED
        if entries:
            logger.info("start-up sweep: %d of %d open intents resolved", resolved, len(entries))
        return resolved

    def _open_intents(self) -> list[tuple[OpenIntent, TaskEndpoint]]:
        """The open intents of video tasks and of custom elements, each with the endpoint Kling knows it by."""
        entries: list[tuple[OpenIntent, TaskEndpoint]] = []
        host = self._kling_host
        for status in OPEN_STATUSES:
            for task in self._journal.recent(limit=SWEEP_LIMIT, status=status, kling_host=host):
                entries.append((task, endpoint_named(task.endpoint) or "image2video"))
            for element in self._journal.elements(limit=SWEEP_LIMIT, status=status, kling_host=host):
                entries.append((element, ELEMENTS))
        # Another Kling API's intents (a sandbox's, the other site's) would all look "never created" here.
        mine = (None, host)
        return [
            (e, endpoint)
            for e, endpoint in entries
            if e.task_id is None and e.created_at < self._born and e.kling_host in mine
        ]
