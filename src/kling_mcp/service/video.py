"""The video use case: check a request, create its task exactly once, wait for it within a deadline, report it."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass
from functools import partial
from typing import Any

import anyio
import anyio.to_thread

from kling_mcp.api.capabilities import ENDPOINTS, endpoint_named
from kling_mcp.api.client import KlingClient
from kling_mcp.api.combination import Judged
from kling_mcp.api.errors import (
    CreateOutcomeUnknownError,
    CreateRefusedError,
    KlingError,
    KlingNotFoundError,
    describe_cause,
)
from kling_mcp.api.models import CreateBody, Endpoint, Task
from kling_mcp.service.errors import (
    JournalUnavailableError,
    TaskCallError,
    TaskFailedError,
    TaskNotFoundError,
    TaskOnAnotherKlingError,
    judged_refusal,
)
from kling_mcp.service.intents import IntentResolver
from kling_mcp.service.journal import CREATE_FAILED, UNKNOWN, JournalEntry, TaskJournal, describe_journal_error
from kling_mcp.service.options import ServiceOptions
from kling_mcp.service.owners import Viewer, local_owner, operator
from kling_mcp.service.poller import TaskPoller
from kling_mcp.service.recorder import JournalRecorder
from kling_mcp.service.requests import GenerateRequest, prepare_request
from kling_mcp.service.results import VideoTaskResult, from_entry, from_task, next_step_for

logger = logging.getLogger(__name__)

ProgressFn = Callable[[float, float | None, str], Awaitable[None]]
"""Reports (elapsed seconds, total seconds, message) to the caller while a task runs."""

# A create gets at least this long for its retries, even when the caller's wait is shorter.
MIN_CREATE_BUDGET_SECONDS = 30.0


@dataclass(frozen=True)
class Outcome:
    """A task's state after a wait, and how long the call waited."""

    result: VideoTaskResult
    waited: float
    wait_note: str | None = None  # why the call did not wait as long as asked, when it did not


@dataclass(frozen=True)
class Started:
    """A task just created: where it lives, Kling's first answer, our id for it, its timing profile, and any
    warning that the journal could not record it."""

    endpoint: Endpoint
    task: Task
    external_task_id: str
    profile: tuple[str, str | None, int | None]
    journal_warning: str | None = None


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
        self._wall_clock = wall_clock
        self.poller = TaskPoller(client, coalesce_window=options.coalesce_window, clock=clock)
        self._uploads = anyio.CapacityLimiter(options.max_concurrent_uploads)
        self._waits: set[anyio.CancelScope] = set()
        self._wrapping_up = False

    @property
    def journal(self) -> TaskJournal:
        """The task journal this service writes (the player reads a task's request and history from it)."""
        return self._journal

    def wrap_up(self) -> int:
        """End every wait now, and skip waiting from here on: calls answer with their task's last known status.

        For shutdown: a call that returns its task id as a normal result beats one cut off with an error.
        Returns how many waits were ended.
        """
        self._wrapping_up = True
        for scope in list(self._waits):
            scope.cancel()
        return len(self._waits)

    def _budget(self, requested: float) -> float:
        return max(0.0, min(requested, self.options.max_wait_seconds))

    async def generate(
        self, request: GenerateRequest, progress: ProgressFn | None = None, *, owner: str | None = None
    ) -> Outcome:
        """Create the task once (see `start`) and wait for it up to min(timeout, the server's cap).

        Every failure after the intent is written is a `TaskCallError` carrying the task's ids and the next step.
        """
        started = self._clock()
        budget = self._budget(request.effective_timeout)
        deadline = started + budget
        create_deadline = started + max(budget, MIN_CREATE_BUDGET_SECONDS)
        begun = await self.start(request, create_deadline=create_deadline, owner=owner)
        task = begun.task
        try:
            task = await self._wait(begun.endpoint, task, started, deadline, progress, begun.profile)
            return self._finish(task, request.model, started, begun.external_task_id, begun.journal_warning)
        except TaskFailedError:
            raise
        except Exception as exc:  # the task exists and is paid for: whatever broke, hand back its ids
            raise TaskCallError(
                f"Kling created the task, but the call could not follow it ({describe_cause(exc)})",
                external_task_id=begun.external_task_id,
                task_id=task.task_id,
                next_step=next_step_for("processing", task.task_id),
                journal_warning=begun.journal_warning,
            ) from exc

    async def start(
        self, request: GenerateRequest, *, create_deadline: float | None = None, owner: str | None = None
    ) -> Started:
        """Create the task once (owned by `owner`, default the local user), journaled before and after the create
        request; does not wait for the video.

        Refused before anything is sent if the intent cannot be journaled (`JournalUnavailableError`); after the
        create request may have left, every failure is a `TaskCallError` naming the task's ids.
        """
        if create_deadline is None:
            create_deadline = self._clock() + MIN_CREATE_BUDGET_SECONDS
        # Bodies with inline images are megabytes each: bound how many exist at once, and drop each after its create.
        limiter: AbstractAsyncContextManager[Any] = self._uploads if request.carries_inline_images else nullcontext()
        async with limiter:
            prepared = prepare_request(request, self.options)
            prepared.entry.kling_host = self.kling_host
            prepared.entry.owner = owner or local_owner()
            endpoint, external_id = prepared.endpoint, prepared.entry.external_task_id
            await self.recorder.intent(prepared.entry)  # refuses the call, before any request, if it cannot
            # Shielded: a cancelled call must still learn and record the id of a task it may have paid for.
            with anyio.CancelScope(shield=True):
                try:
                    judged = (prepared.judged, request.model) if prepared.judged else None
                    task, warning = await self._create(endpoint, prepared.body, external_id, create_deadline, judged)
                finally:
                    del prepared
        logger.info("created Kling task %s (%s, %s)", task.task_id, request.model, endpoint)
        profile = (request.model, request.mode, request.effective_duration)
        return Started(endpoint, task, external_id, profile, warning)

    async def _create(
        self,
        endpoint: Endpoint,
        body: CreateBody,
        external_id: str,
        deadline: float,
        judged: tuple[Judged, str] | None = None,
    ) -> tuple[Task, str | None]:
        """The created task and any journal warning; refused and unknown outcomes are journaled and raised with ids.

        `judged`: what the capability table left to Kling, and the model, to explain a refusal by it."""
        try:
            task = await self._client.create_task(endpoint, body, deadline=deadline)
        except (CreateRefusedError, CreateOutcomeUnknownError) as exc:
            status = CREATE_FAILED if isinstance(exc, CreateRefusedError) else UNKNOWN
            write = partial(self._journal.record_status, external_id, status, str(exc))
            reason = str(exc)
            if isinstance(exc, CreateRefusedError) and judged is not None:
                reason = judged_refusal(exc.cause, *judged) or reason
            raise TaskCallError(
                reason,
                external_task_id=external_id,
                next_step=next_step_for(status, None, external_id),
                journal_warning=await self.recorder.write(external_id, write),
            ) from exc
        write = partial(self._journal.record_task, task, external_id, endpoint, self.kling_host)
        return task, await self.recorder.write(external_id, write)

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
        owner's) is answered with the same `TaskNotFoundError`, without asking Kling.
        """
        viewer = viewer or operator()
        started = self._clock()
        deadline = started + self._budget(wait_seconds)
        entry, journal_note = await self._entry(any_id)
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
            raise TaskNotFoundError(any_id)
        endpoint, task = found
        external_id = entry.external_task_id if entry else task.external_task_id
        # Deferred: a lookup must not wait for another process's write lock; the background thread writes it.
        write = partial(self._journal.record_task, task, external_id, endpoint, self.kling_host, viewer.owner)
        self.recorder.defer(task.task_id, write)
        warning = journal_note
        profile = (entry.model, entry.mode, entry.duration) if entry and entry.model else None
        task = await self._wait(endpoint, task, started, deadline, progress, profile)
        return self._finish(task, entry.model if entry and entry.model else None, started, external_id, warning)

    async def _entry(self, any_id: str) -> tuple[JournalEntry | None, str | None]:
        """The journal's entry for the id; when the journal cannot be read, none and a note (Kling is still asked)."""
        try:
            return await anyio.to_thread.run_sync(self._journal.get, any_id, limiter=self.recorder.readers), None
        except Exception as exc:
            problem = describe_journal_error(exc)
            return None, f"The task journal at {self._journal.where} could not be read ({problem.text}); " + (
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
        self, task: Task, model: str | None, started: float, external_id: str | None, warning: str | None
    ) -> Outcome:
        if task.task_status == "failed":
            raise TaskFailedError(task, external_id)
        result = replace_warning(from_task(task, model, external_id), warning)
        return Outcome(result, self._clock() - started)

    async def history(self, profile: tuple[str, str | None, int | None] | None) -> list[float]:
        """Seconds the latest finished tasks of this (model, mode, duration) took at this server's Kling API."""
        if profile is None:
            return []
        model, mode, duration = profile
        try:
            return await anyio.to_thread.run_sync(
                lambda: self._journal.durations(model, mode, duration, kling_host=self.kling_host),
                limiter=self.recorder.readers,
            )
        except Exception as exc:  # history only tunes the poll schedule; without it the fallback schedule is used
            logger.debug("no poll history from the task journal: %s", exc)
            return []

    def _age(self, task: Task, started: float) -> float:
        """Seconds since Kling created the task (its own timestamp), or since this call started."""
        if task.created_at:
            return max(0.0, self._wall_clock() - task.created_at / 1000)
        return self._clock() - started

    async def _wait(
        self,
        endpoint: Endpoint,
        task: Task,
        started: float,
        deadline: float,
        progress: ProgressFn | None,
        profile: tuple[str, str | None, int | None] | None = None,
    ) -> Task:
        """Poll on the profile's schedule until the task ends or the deadline passes (last check at the deadline)."""
        if task.is_terminal or self._wrapping_up:
            return await self._finish_wait(task, started, progress)
        plan = self.options.schedule.plan(await self.history(profile))
        # Progress runs towards when such a task usually finishes (not the wait cap, which says nothing about it).
        expected_end = None
        if plan.expected is not None:
            expected_end = self._clock() - started + max(0.0, plan.expected - self._age(task, started))
        with anyio.CancelScope() as scope:  # wrap_up() cancels it: the call then answers with what it knows
            self._waits.add(scope)
            try:
                while not task.is_terminal:
                    now = self._clock()
                    remaining = deadline - now
                    if remaining <= 0:
                        break
                    elapsed = now - started
                    if progress is not None:
                        # Past the usual time the total is unknown again (a total the progress passed would lie).
                        total = expected_end if expected_end is not None and elapsed < expected_end else None
                        await progress(elapsed, total, f"{task.status} · {elapsed:.0f} s elapsed")
                    delay, phase = plan.next_delay(self._age(task, started))
                    delay = min(delay, remaining)
                    logger.debug("next query of task %s in %.1f s (%s)", task.task_id, delay, phase)
                    try:
                        fresh = await self.poller.poll(endpoint, task.task_id, due=now + delay, deadline=deadline)
                    except KlingNotFoundError:
                        raise
                    except KlingError as exc:
                        # The task exists and is paid for: report what we know rather than fail the call.
                        logger.warning("could not query task %s: %s", task.task_id, exc)
                        continue
                    changed = fresh.task_status != task.task_status
                    task = fresh
                    if changed:  # the journal is written when the status changes, not on every poll
                        write = partial(self._journal.record_task, task, None, endpoint, self.kling_host)
                        self.recorder.defer(task.task_id, write)
            finally:
                self._waits.discard(scope)
        return await self._finish_wait(task, started, progress)

    async def _finish_wait(self, task: Task, started: float, progress: ProgressFn | None) -> Task:
        if progress is not None and task.is_terminal:
            elapsed = self._clock() - started
            await progress(elapsed, elapsed, f"{task.status} · {elapsed:.0f} s elapsed")  # done: all of it
        return task


def replace_warning(result: VideoTaskResult, warning: str | None) -> VideoTaskResult:
    """The result with the journal's warning, if any."""
    return result.model_copy(update={"journal_warning": warning}) if warning else result
