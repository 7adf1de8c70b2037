"""The video use case: check a request, create its task exactly once (`creating.py`), wait for it within a deadline
(`waiting.py`), report it; and look tasks up, by any of their ids, or list them."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, replace
from functools import partial

import anyio
import anyio.to_thread

from kling_mcp.api.capabilities import ENDPOINTS, endpoint_named
from kling_mcp.api.client import KlingClient
from kling_mcp.api.errors import KlingNotFoundError, describe_cause
from kling_mcp.api.models import Endpoint, Task
from kling_mcp.service.create.creating import MIN_CREATE_BUDGET_SECONDS, Approval, Prepared, Started, TaskCreator
from kling_mcp.service.create.intents import IntentResolver
from kling_mcp.service.create.recorder import JournalRecorder
from kling_mcp.service.custom_elements import ElementService
from kling_mcp.service.describe.owners import Viewer, operator
from kling_mcp.service.describe.task_results import VideoTaskResult, from_entry, from_task, made_from, next_step_for
from kling_mcp.service.failures import (
    JournalUnavailableError,
    OwnerUncheckedError,
    TaskCallError,
    TaskFailedError,
    TaskNotFoundError,
    TaskOnAnotherKlingError,
)
from kling_mcp.service.journal import JournalEntry, TaskJournal, describe_journal_error
from kling_mcp.service.journal.ledger import WINDOW_SECONDS
from kling_mcp.service.limits.spend import SpendLimitError
from kling_mcp.service.options import ServiceOptions
from kling_mcp.service.prepare.bodies import GenerateRequest
from kling_mcp.service.prepare.estimates import Estimate, Profile, estimate, prior
from kling_mcp.service.wait.poller import TaskPoller
from kling_mcp.service.wait.waiting import ProgressFn, TaskWaiter

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    """A task's state after a wait, and how long the call waited."""

    result: VideoTaskResult
    waited: float
    wait_note: str | None = None  # why the call did not wait as long as asked, when it did not


@dataclass(frozen=True)
class Begun:
    """A task just created by a call, with the call's clock: when it started and until when it may wait."""

    started: Started
    approval: Approval
    model: str
    since: float
    deadline: float
    notes: tuple[str, ...] = ()  # what the caller gave that was not sent (`PreparedRequest.notes`)


class VideoService:
    """Generate, look up and list Kling video tasks, with every created task written to the journal."""

    def __init__(
        self,
        client: KlingClient,
        journal: TaskJournal,
        options: ServiceOptions,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        kling_host: str | None = None,
    ) -> None:
        self._client = client
        # The Kling API base URL this service talks to: stamped on every task it journals, and the only one whose
        # tasks it answers for (a journal may also hold a sandbox's tasks, or the other Kling site's).
        self.kling_host = kling_host
        self._journal = journal
        self.recorder = JournalRecorder(journal)
        self.intents = IntentResolver(
            client,
            journal,
            self.recorder,
            grace_seconds=options.stale_intent_seconds,
            kling_host=kling_host,
            poll_interval=options.schedule.min_interval,
            clock=clock,
            wall_clock=wall_clock,
        )
        self.options = options
        self._clock = clock
        self.elements = ElementService(
            client, journal, self.recorder, options, intents=self.intents, clock=clock, kling_host=kling_host
        )
        self.creator = TaskCreator(
            client,
            journal,
            self.recorder,
            options,
            clock=clock,
            kling_host=kling_host,
            check_elements=self.elements.check_usable,  # every create refuses another owner's elements
        )
        self.poller = TaskPoller(client, coalesce_window=options.coalesce_window, clock=clock)
        self.waiter = TaskWaiter(
            self.poller,
            journal,
            self.recorder,
            options.schedule,
            clock=clock,
            wall_clock=wall_clock,
            kling_host=kling_host,
        )

    @property
    def journal(self) -> TaskJournal:
        """The task journal this service writes (the player reads a task's request and history from it)."""
        return self._journal

    def wrap_up(self) -> int:
        """End every wait now, and skip waiting from here on: calls answer with their task's last known status.

        For shutdown: a call that returns its task id as a normal result beats one cut off with an error.
        Returns how many waits were ended.
        """
        return self.waiter.wrap_up()

    async def estimate(self, profile: Profile) -> Estimate:
        """What creating a task of this billing profile (`PreparedRequest.profile`) is expected to cost (one journal
        query, in a worker thread); when the journal cannot be read, the prior table's figure (the create itself
        will then say what is wrong)."""
        try:
            return await anyio.to_thread.run_sync(
                lambda: estimate(self._journal, profile, kling_host=self.kling_host), limiter=self.recorder.readers
            )
        except Exception as exc:
            logger.warning("estimate from the prior table: journal unreadable (%s)", describe_journal_error(exc).text)
            return prior(profile)

    async def check_spend(self, owner: str, units: float) -> None:
        """Raise the `SpendLimitError` the create would meet if `owner`'s spend plus `units` passes the limit now.

        Read-only, before the user is asked: nobody approves a create the limit will refuse. The authoritative check
        stays in the intent's transaction (`TaskCreator.start`); when the journal cannot be read, this one passes
        (the create itself will then say what is wrong)."""
        limit = self.options.spend_limit
        try:
            spending = await anyio.to_thread.run_sync(
                lambda: self._journal.spending(owner, limit, window=WINDOW_SECONDS), limiter=self.recorder.readers
            )
        except Exception as exc:
            logger.warning("spend pre-check skipped: journal unreadable (%s)", describe_journal_error(exc).text)
            return
        if not spending.allows(units):
            raise SpendLimitError(spending, units)

    def _budget(self, requested: float) -> float:
        return max(0.0, min(requested, self.options.max_wait_seconds))

    def prepare(self, request: GenerateRequest, viewer: Viewer | None = None) -> AbstractAsyncContextManager[Prepared]:
        """The request prepared once for this call (`TaskCreator.prepare`: the elements it names checked as the
        viewer's to use, the table asked once, each local file read once); the block ends after `start`."""
        return self.creator.prepare(request, viewer)

    async def start(self, prepared: Prepared, *, approval: Approval, waits: bool = True) -> Begun:
        """Create the prepared task once (see `TaskCreator.start`). A call that `waits` gives the create and its
        time in line the call's own deadline, min(timeout, the server's cap), at least `MIN_CREATE_BUDGET_SECONDS`
        for the create's retries; one that does not (an MCP task) gives it those seconds."""
        request = prepared.request.request
        since = self._clock()
        deadline = since + self._budget(request.effective_timeout)
        if waits:
            create_deadline = since + max(deadline - since, MIN_CREATE_BUDGET_SECONDS)
            started = await self.creator.start(
                prepared, approval=approval, create_deadline=create_deadline, wait_deadline=deadline
            )
        else:
            started = await self.creator.start(prepared, approval=approval)
        return Begun(started, approval, request.model, since, deadline, prepared.request.notes)

    async def wait_for(self, begun: Begun, progress: ProgressFn | None = None) -> Outcome:
        """Wait for a task this call created, up to its deadline, and report it.

        Every failure here is a `TaskCallError` carrying the task's ids and the next step (or the task's own
        `TaskFailedError`)."""
        started = begun.started
        task = started.task
        try:
            task = await self.waiter.wait(
                started.endpoint, task, begun.since, begun.deadline, progress, started.profile
            )
            outcome = self._finish(
                task, begun.model, begun.since, started.external_task_id, started.journal_warning, started.endpoint
            )
            return with_approval(outcome, begun.approval)
        except TaskFailedError:
            raise
        except Exception as exc:  # the task exists and is paid for: whatever broke, hand back its ids
            raise TaskCallError(
                f"Kling created the task, but the call could not follow it ({describe_cause(exc)})",
                external_task_id=started.external_task_id,
                task_id=task.task_id,
                status="processing",
                next_step=next_step_for("processing", task.task_id),
                journal_warning=started.journal_warning,
            ) from exc

    async def generate(
        self,
        request: GenerateRequest,
        progress: ProgressFn | None = None,
        *,
        approval: Approval,
        viewer: Viewer | None = None,
    ) -> Outcome:
        """Prepare, create once and wait (up to min(timeout, the server's cap)), for a caller whose approval is
        already known: `prepare`, `start` and `wait_for` in one (the tool's handler asks the user in between)."""
        async with self.prepare(request, viewer) as prepared:
            begun = await self.start(prepared, approval=approval)
        return await self.wait_for(begun, progress)

    async def get(
        self,
        any_id: str,
        wait_seconds: float = 0.0,
        progress: ProgressFn | None = None,
        *,
        viewer: Viewer | None = None,
    ) -> Outcome:
        """Look a task up by Kling task id or external id; optionally wait for it to finish.

        A viewer who does not see every owner's tasks gets only their own: any other id (unknown, or another
        owner's) is answered with the same `TaskNotFoundError`, without asking Kling. While the journal cannot be
        read, Kling is asked: a task it has is answered with `OwnerUncheckedError` (never denied), details withheld.
        """
        viewer = viewer or operator()
        started = self._clock()
        deadline = started + self._budget(wait_seconds)
        entry, journal_note = await self._entry(any_id)
        if journal_note is not None and not viewer.sees_all:
            # The journal, which says whose a task is, cannot be read: Kling is asked all the same, because a task
            # denied here would be created and paid for again.
            if await self._query(any_id, None, deadline) is not None:
                raise OwnerUncheckedError(any_id, journal_note)
            raise TaskNotFoundError(any_id, journal_note)
        if not viewer.sees_all and not viewer.may_see(entry):
            raise TaskNotFoundError(any_id)
        if entry is not None and entry.kling_host and self.kling_host and entry.kling_host != self.kling_host:
            raise TaskOnAnotherKlingError(any_id, entry.kling_host, self.kling_host)
        if entry is not None and entry.task_id is None:
            endpoint: Endpoint = endpoint_named(entry.endpoint) or "image2video"
            resolution = await self.intents.resolve(entry, endpoint, deadline)
            if resolution.task is None:
                note = resolution.note if wait_seconds > 0 else None
                return Outcome(from_entry(resolution.entry), self._clock() - started, note)
            found: tuple[Endpoint, Task] | None = (endpoint, resolution.task)
        else:
            found = await self._query(entry.task_id if entry is not None and entry.task_id else any_id, entry, deadline)
        if found is None:
            if entry is not None:
                return Outcome(from_entry(entry), self._clock() - started)
            raise TaskNotFoundError(any_id, journal_note)
        endpoint, task = found
        external_id = entry.external_task_id if entry else task.external_task_id
        # Deferred: a lookup must not wait for another process's write lock; the background thread writes it.
        write = partial(self._journal.record_task, task, external_id, endpoint, self.kling_host, viewer.owner)
        self.recorder.defer(task.task_id, write)
        warning = journal_note
        profile = (entry.model, entry.mode, entry.duration) if entry and entry.model else None
        task = await self.waiter.wait(endpoint, task, started, deadline, progress, profile)
        model = entry.model if entry and entry.model else None
        outcome = self._finish(task, model, started, external_id, warning, endpoint)
        if entry is None:
            return outcome
        kept: dict[str, object] = {"estimated_units": entry.estimated_units, "spend_approval": entry.spend_approval}
        kept["made_from"] = made_from(entry.settings)  # these three from the create
        update = {name: value for name, value in kept.items() if value is not None}
        return replace(outcome, result=outcome.result.model_copy(update=update))

    async def _entry(self, any_id: str) -> tuple[JournalEntry | None, str | None]:
        """The journal's entry for the id; when the journal cannot be read, none and a note (Kling is still asked)."""
        try:
            return await anyio.to_thread.run_sync(self._journal.get, any_id, limiter=self.recorder.readers), None
        except Exception as exc:
            problem = describe_journal_error(exc)
            return None, f"The task journal at {self._journal.where} could not be used ({problem.text}); " + (
                f"Kling was asked directly. To fix: {problem.advice}."
            )

    async def _query(self, task_id: str, entry: JournalEntry | None, deadline: float) -> tuple[Endpoint, Task] | None:
        """The task from Kling, on the entry's endpoint or (for an id the journal does not know) on each in turn."""
        endpoints = (entry.endpoint,) if entry is not None and entry.endpoint in ENDPOINTS else ENDPOINTS
        for endpoint in endpoints:
            try:
                return endpoint, await self._client.get_task(endpoint, task_id, deadline=deadline)
            except KlingNotFoundError:
                continue
        return None

    async def list_recent(
        self, *, limit: int = 20, status: str | None = None, viewer: Viewer | None = None
    ) -> list[VideoTaskResult]:
        """Tasks from the journal the viewer may see (default: all), newest first (no Kling request)."""
        owner = (viewer or operator()).owner_filter
        try:
            entries = await anyio.to_thread.run_sync(
                lambda: self._journal.recent(limit=limit, status=status, kling_host=self.kling_host, owner=owner),
                limiter=self.recorder.readers,
            )
        except Exception as exc:
            raise JournalUnavailableError(self._journal.where, describe_journal_error(exc), writing=False) from exc
        return [from_entry(e) for e in entries]

    def _finish(
        self,
        task: Task,
        model: str | None,
        started: float,
        external_id: str | None,
        warning: str | None,
        endpoint: Endpoint,
    ) -> Outcome:
        if task.task_status == "failed":
            raise TaskFailedError(task, external_id)
        result = replace_warning(from_task(task, model, external_id, endpoint), warning)
        return Outcome(result, self._clock() - started)


def with_approval(outcome: Outcome, approval: Approval) -> Outcome:
    """The outcome with the estimate shown before its create and how the spend was approved."""
    update = {
        "estimated_units": approval.estimate.units,
        "estimate_basis": approval.estimate.basis,
        "spend_approval": approval.how,
    }
    return replace(outcome, result=outcome.result.model_copy(update=update))


def replace_warning(result: VideoTaskResult, warning: str | None) -> VideoTaskResult:
    """The result with the journal's warning, if any."""
    return result.model_copy(update={"journal_warning": warning}) if warning else result
