"""One poll for many tasks: status queries that fall due together share one list request.

Each waiting call says when it wants its task's status next. The first call whose time comes leads a round: it takes
every task due within `coalesce_window` (they are asked early, never late), fetches them with one list request per
endpoint (Kling's list returns up to 500 tasks, newest first; a further page, up to three, while the last one was full
and a missing task was created before its oldest), falls back to one query per task for any not found, and hands
every waiter its answer. Queries per round stay O(1) in the number of tasks in flight.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

import anyio

from kling_mcp.api.client import KlingClient
from kling_mcp.api.models import Endpoint, Task

logger = logging.getLogger(__name__)

MAX_PAGE_SIZE = 500
MAX_PAGES_PER_ROUND = 3
MIN_PAGE_SIZE = 50


@dataclass(eq=False)
class _Waiter:
    endpoint: Endpoint
    task_id: str
    due: float
    deadline: float | None
    created_ms: int | None  # when Kling created the task (its `created_at`), if known
    done: anyio.Event = field(default_factory=anyio.Event)
    claimed: bool = False
    pause: anyio.CancelScope | None = None  # the wait until `due`; `hurry` cancels it
    result: Task | None = None
    error: Exception | None = None


class TaskPoller:
    """Shares status queries between the calls waiting in one process."""

    def __init__(
        self,
        client: KlingClient,
        *,
        coalesce_window: float = 1.0,
        batch_threshold: int = 2,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._window = coalesce_window
        self._threshold = batch_threshold
        self._clock = clock
        self._waiters: set[_Waiter] = set()

    async def poll(
        self,
        endpoint: Endpoint,
        task_id: str,
        *,
        due: float,
        deadline: float | None = None,
        created_ms: int | None = None,
    ) -> Task:
        """The task's status, fetched at `due` (monotonic time) or earlier as part of another call's round.

        `created_ms`, Kling's `created_at` for the task, tells a round whether an older page of the list can hold it.
        """
        waiter = _Waiter(endpoint, task_id, due, deadline, created_ms)
        self._waiters.add(waiter)
        try:
            with anyio.move_on_after(max(0.0, due - self._clock())) as waiter.pause:
                await waiter.done.wait()
            if not waiter.done.is_set():
                if waiter.claimed:
                    await waiter.done.wait()
                else:
                    await self._lead_round()
        finally:
            self._waiters.discard(waiter)
        if waiter.error is not None:
            raise waiter.error
        assert waiter.result is not None
        return waiter.result

    def hurry(self, task_id: str) -> int:
        """Query this task now instead of when due (a callback said it changed); returns how many calls it wakes."""
        now = self._clock()
        woken = [w for w in self._waiters if w.task_id == task_id and not w.claimed and w.pause is not None]
        for waiter in woken:
            waiter.due = now
            assert waiter.pause is not None
            waiter.pause.cancel()
        return len(woken)

    async def _lead_round(self) -> None:
        horizon = self._clock() + self._window
        batch = [w for w in self._waiters if not w.claimed and not w.done.is_set() and w.due <= horizon]
        for waiter in batch:
            waiter.claimed = True
        # Shielded: other calls are waiting on this round's answers even if the leading call is cancelled.
        with anyio.CancelScope(shield=True):
            try:
                await self._answer(batch)
            finally:
                for waiter in batch:
                    if waiter.result is None and waiter.error is None:
                        waiter.error = RuntimeError("status query did not complete")
                    waiter.done.set()

    async def _answer(self, batch: list[_Waiter]) -> None:
        by_endpoint: dict[Endpoint, list[_Waiter]] = {}
        for waiter in batch:
            by_endpoint.setdefault(waiter.endpoint, []).append(waiter)
        for endpoint, waiters in by_endpoint.items():
            deadlines = [w.deadline for w in waiters if w.deadline is not None]
            deadline = min(deadlines) if deadlines else None
            missing = waiters
            if len(waiters) >= self._threshold:
                missing = await self._answer_from_list(endpoint, waiters, deadline)
            for waiter in missing:
                try:
                    waiter.result = await self._client.get_task(endpoint, waiter.task_id, deadline=deadline)
                except Exception as exc:  # handed to the waiting call, which decides what it means
                    waiter.error = exc

    async def _answer_from_list(
        self, endpoint: Endpoint, waiters: list[_Waiter], deadline: float | None
    ) -> list[_Waiter]:
        """Answer what the newest pages hold; returns the waiters still without an answer."""
        # Several calls may wait on one task (a generate call, and the player following it): each gets the answer.
        wanted: dict[str, list[_Waiter]] = {}
        for waiter in waiters:
            wanted.setdefault(waiter.task_id, []).append(waiter)
        in_flight = max(len(self._waiters), len(waiters))
        page_size = min(MAX_PAGE_SIZE, max(MIN_PAGE_SIZE, 2 * in_flight))
        for page in range(1, MAX_PAGES_PER_ROUND + 1):
            try:
                tasks = await self._client.list_tasks(endpoint, page=page, page_size=page_size, deadline=deadline)
            except Exception as exc:
                logger.debug("list query failed (%s); querying tasks one by one", exc)
                break
            for task in tasks:
                for waiter in wanted.pop(task.task_id, []):
                    waiter.result = task
            left = [waiter for group in wanted.values() for waiter in group]
            if not wanted or len(tasks) < page_size or not _older_page_may_hold(tasks, left):
                break
        return [waiter for group in wanted.values() for waiter in group]


def _older_page_may_hold(page: list[Task], waiters: Iterable[_Waiter]) -> bool:
    """Whether the next (older) page can hold one of these tasks: one was created before this page's oldest task.

    Tasks created while others wait (calls still arriving, other clients) push the waiting ones down the list, past
    a page sized for the calls already waiting; a task not known to be older than the page is queried on its own.
    """
    listed = [task.created_at for task in page if task.created_at is not None]
    return bool(listed) and any(w.created_ms is not None and w.created_ms < min(listed) for w in waiters)


# Waking the calls that wait for a task, in this process or, through the shared journal, in every replica.

Hurry = Callable[[str], int]
"""Wakes this process's calls waiting on a task id (`TaskPoller.hurry`); returns how many."""


class Wakeups(Protocol):
    """Tells every call waiting on a task, wherever it waits, that the task has changed."""

    async def publish(self, task_id: str) -> None:
        """Wake the calls waiting on `task_id`: they query its status now."""
        ...

    def close(self) -> None:
        """Stop listening for other replicas' wake-ups."""
        ...


class LocalWakeups:
    """Wake-ups for one process (an SQLite journal: replicas share one machine, and each receives its callbacks)."""

    def __init__(self, hurry: Hurry) -> None:
        self._hurry = hurry

    async def publish(self, task_id: str) -> None:
        """Wake this process's calls waiting on `task_id`."""
        self._hurry(task_id)

    def close(self) -> None:
        """Nothing to stop."""
