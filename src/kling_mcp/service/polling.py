"""When to ask Kling about a running task next: rarely while young, more often later, never past the deadline."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class PollSchedule:
    """Age-proportional, jittered gaps: a task of age t is next checked after about `factor`·t seconds.

    Early checks are cheap to get wrong (tasks rarely finish in the first seconds), and the relative detection
    delay stays near `factor` for tasks of any length, bounded by `min_interval` and `max_interval`.
    """

    min_interval: float = 2.0
    max_interval: float = 10.0
    factor: float = 0.15
    jitter: float = 0.15

    def next_interval(self, age: float, rng: Callable[[], float] = random.random) -> float:
        """Seconds to wait before the next status query of a task that is `age` seconds old."""
        base = min(self.max_interval, max(self.min_interval, age * self.factor))
        spread = 1 + self.jitter * (2 * rng() - 1)
        return max(self.min_interval, min(self.max_interval, base * spread))
