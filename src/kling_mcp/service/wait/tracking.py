"""A journaled task's state for callers that poll us (the MCP tasks protocol), refreshed on the learned schedule.

A client polling `tasks/get` must not make us poll Kling faster than a waiting tool call would: each task is asked
about again only once the schedule's gap for its age has passed, through the shared poller; in between, the answer
comes from the journal (which any replica sharing it keeps current). The gap is also what the client is told to wait.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

import anyio.to_thread

from kling_mcp.api.capabilities import endpoint_named
from kling_mcp.api.errors import KlingError
from kling_mcp.service.describe.task_results import DONE_STATUSES
from kling_mcp.service.failures import TaskFailedError
from kling_mcp.service.journal import JournalEntry, TaskJournal

if TYPE_CHECKING:
    from kling_mcp.service.video import VideoService

logger = logging.getLogger(__name__)

TERMINAL_STATUSES = DONE_STATUSES  # succeed, failed, create_failed, never_created


@dataclass(frozen=True)
class Snapshot:
    """What the journal knows of a task now, and how long until asking again is worthwhile (seconds)."""

    entry: JournalEntry
    poll_interval: float

    @property
    def done(self) -> bool:
        """The task has ended (succeed, failed, or its create failed)."""
        return self.entry.status in TERMINAL_STATUSES


class TaskTracker:
    """Answers "how is this task?" from the journal, querying Kling at most once per scheduled gap per task."""

    def __init__(
        self,
        service: VideoService,
        journal: TaskJournal,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._service = service
        self._journal = journal
        self._clock = clock
        self._wall_clock = wall_clock
        self._next_check: dict[str, float] = {}
        self._task_keys: dict[str, str] = {}  # Kling task id → external id, so a callback can mark a task due

    def hurry(self, task_id: str) -> int:
        """Kling called back about this task: its next snapshot asks Kling at once. Returns 1 if it is tracked here."""
        key = self._task_keys.get(task_id)
        if key is None or key not in self._next_check:
            return 0
        self._next_check[key] = 0.0
        return 1

    async def snapshot(self, any_id: str, *, refresh: bool = True) -> Snapshot | None:
        """The task's state (refreshed from Kling when its gap has passed), or None if the journal lacks it.

        `refresh=False` answers from the journal alone.
        """
        entry = await anyio.to_thread.run_sync(self._journal.get, any_id)
        if entry is None:
            return None
        key = entry.external_task_id
        if entry.task_id is not None:
            self._task_keys[entry.task_id] = key
        due = self._clock() >= self._next_check.get(key, 0.0)
        if refresh and due and entry.status not in TERMINAL_STATUSES:
            entry = await self._refresh(entry)
        options = self._service.options
        if entry.status in TERMINAL_STATUSES:
            self._next_check.pop(key, None)
            self._task_keys.pop(entry.task_id or "", None)
            return Snapshot(entry, options.schedule.min_interval)
        interval = await self._interval(entry)
        if refresh and due:
            self._next_check[key] = self._clock() + interval
        if options.callback_url_for is not None:
            # Kling calls back: its queries stay sparse, but the client asks us (the journal) often enough to see
            # a callback's news within the longest poll gap.
            return Snapshot(entry, min(interval, options.schedule.max_interval))
        return Snapshot(entry, interval)

    async def _refresh(self, entry: JournalEntry) -> JournalEntry:
        try:
            endpoint = endpoint_named(entry.endpoint)
            if entry.task_id is not None and endpoint is not None:
                task = await self._service.poller.poll(
                    endpoint, entry.task_id, due=self._clock(), created_ms=entry.kling_created_ms
                )
                if task.status != entry.status:
                    # Through the recorder, like every write about a created task: a journal that cannot take it
                    # now keeps it for a retry, and the caller gets the journal's last word instead of an error.
                    record = partial(self._journal.record_task, task, entry.external_task_id, endpoint)
                    await self._service.recorder.write(entry.external_task_id, record)
            else:
                # The create's outcome is not journaled yet: the service asks Kling by our own id.
                await self._service.get(entry.external_task_id)
        except TaskFailedError:
            pass  # the service journaled the failure before raising it
        except KlingError as exc:
            # The journal's last word stands; the client asks again after the next gap.
            logger.warning("could not refresh task %s: %s", entry.external_task_id, exc)
            return entry
        return await anyio.to_thread.run_sync(self._journal.get, entry.external_task_id) or entry

    async def _interval(self, entry: JournalEntry) -> float:
        """The schedule's gap for this task at its age: sparse before the expected finish, dense around it."""
        history: list[float] = []
        if entry.model:
            history = await anyio.to_thread.run_sync(
                lambda: self._journal.durations(entry.model, entry.mode, entry.duration)
            )
        created = entry.kling_created_ms / 1000 if entry.kling_created_ms else entry.created_at
        delay, _ = self._service.options.schedule.plan(history).next_delay(max(0.0, self._wall_clock() - created))
        return delay
