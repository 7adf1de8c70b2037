"""Waking the calls that wait for a task, in this process or, through the shared journal, in every replica."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

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
