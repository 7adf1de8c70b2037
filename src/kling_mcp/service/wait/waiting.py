"""Waiting for a created task: poll on the schedule learnt from earlier tasks until it ends or the call's deadline.

The wait reports progress towards when such a task usually finishes, writes each status change to the journal, and
ends early (answering with the last known status) when the server wraps up for shutdown.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from functools import partial

import anyio
import anyio.to_thread

from kling_mcp.api.errors import KlingError, KlingNotFoundError
from kling_mcp.api.models import Endpoint, Task
from kling_mcp.service.create.recorder import JournalRecorder
from kling_mcp.service.journal import TaskJournal
from kling_mcp.service.wait.poller import TaskPoller
from kling_mcp.service.wait.schedule import PollSchedule

logger = logging.getLogger(__name__)

ProgressFn = Callable[[float, float | None, str], Awaitable[None]]
"""Reports (elapsed seconds, total seconds, message) to the caller while a task runs."""

Profile = tuple[str, str | None, int | None]
"""(model, mode, duration): tasks alike in these take alike times, so they share a learned schedule."""


class TaskWaiter:
    """Waits for tasks within each call's deadline, through the shared poller; `wrap_up` ends every wait at once."""

    def __init__(
        self,
        poller: TaskPoller,
        journal: TaskJournal,
        recorder: JournalRecorder,
        schedule: PollSchedule,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        kling_host: str | None = None,
    ) -> None:
        self._poller = poller
        self._journal = journal
        self._recorder = recorder
        self._schedule = schedule
        self._clock = clock
        self._wall_clock = wall_clock
        self._kling_host = kling_host
        self._waits: set[anyio.CancelScope] = set()
        self._wrapping_up = False

    def wrap_up(self) -> int:
        """End every wait now, and skip waiting from here on; returns how many waits were ended."""
        self._wrapping_up = True
        for scope in list(self._waits):
            scope.cancel()
        return len(self._waits)

    async def history(self, profile: Profile | None) -> list[float]:
        """Seconds the latest finished tasks of this (model, mode, duration) took at this server's Kling API."""
        if profile is None:
            return []
        model, mode, duration = profile
        try:
            return await anyio.to_thread.run_sync(
                lambda: self._journal.durations(model, mode, duration, kling_host=self._kling_host),
                limiter=self._recorder.readers,
            )
        except Exception as exc:  # history only tunes the poll schedule; without it the fallback schedule is used
            logger.debug("no poll history from the task journal: %s", exc)
            return []

    def _age(self, task: Task, started: float) -> float:
        """Seconds since Kling created the task (its own timestamp), or since this call started."""
        if task.created_at:
            return max(0.0, self._wall_clock() - task.created_at / 1000)
        return self._clock() - started

    async def wait(
        self,
        endpoint: Endpoint,
        task: Task,
        started: float,
        deadline: float,
        progress: ProgressFn | None,
        profile: Profile | None = None,
    ) -> Task:
        """Poll on the profile's schedule until the task ends or the deadline passes (last check at the deadline)."""
        if task.is_terminal or self._wrapping_up:
            return await self._finish_wait(task, started, progress)
        plan = self._schedule.plan(await self.history(profile))
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
                        fresh = await self._poller.poll(
                            endpoint, task.task_id, due=now + delay, deadline=deadline, created_ms=task.created_at
                        )
                    except KlingNotFoundError:
                        raise
                    except KlingError as exc:
                        # The task exists and is paid for: report what we know rather than fail the call.
                        logger.warning("could not query task %s: %s", task.task_id, exc)
                        continue
                    changed = fresh.task_status != task.task_status
                    task = fresh
                    if changed:  # the journal is written when the status changes, not on every poll
                        write = partial(self._journal.record_task, task, None, endpoint, self._kling_host)
                        self._recorder.defer(task.task_id, write)
            finally:
                self._waits.discard(scope)
        return await self._finish_wait(task, started, progress)

    async def _finish_wait(self, task: Task, started: float, progress: ProgressFn | None) -> Task:
        if progress is not None and task.is_terminal:
            elapsed = self._clock() - started
            await progress(elapsed, elapsed, f"{task.status} · {elapsed:.0f} s elapsed")  # done: all of it
        return task
