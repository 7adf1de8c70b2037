"""Polling when Kling calls back: a sparse safety net for a lost callback, not the way results are found.

A callback wakes the waiting call at once, so a status query before the task is due buys nothing. With history of
the task's profile the first query waits until the end of the expected window (a task still running then is late,
or its callback was lost); without history, and after that first one, queries are `interval` apart.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from kling_mcp.service.wait.schedule import Phase, PollPlan, PollSchedule


@dataclass(frozen=True)
class SafetyNetPlan(PollPlan):
    """A PollPlan whose gaps are the safety net's."""

    interval: float = 30.0

    def next_delay(self, age: float, rng: Callable[[], float] = random.random) -> tuple[float, Phase]:
        """Seconds until the next safety-net query of a task that is `age` seconds old."""
        if self.window is not None and age < self.window[1]:
            return max(self.min_interval, self.window[1] - age), "sparse"
        spread = 1 + self.jitter * (2 * rng() - 1)
        return max(self.min_interval, self.interval * spread), "backoff"


@dataclass(frozen=True)
class SafetyNetSchedule(PollSchedule):
    """A PollSchedule for deployments that receive Kling's callbacks."""

    interval: float = 30.0

    def plan(self, history: Sequence[float] = ()) -> PollPlan:
        """The learned plan's window, with the safety net's gaps."""
        learned = super().plan(history)
        return SafetyNetPlan(**{**learned.__dict__, "interval": self.interval})
