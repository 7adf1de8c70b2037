"""When to ask Kling about a running task next.

Polling trades queries for detection latency. Kling tasks of one model/mode/duration take similar times, so with a
few finished tasks of the same profile we know when completion is likely: poll sparsely before that window, densely
inside it, and back off after it. Without history, gaps grow with the task's age up to a cap that bounds the
detection delay. The caller's deadline always gets a last check (the wait loop clamps every gap to it).
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

BACKOFF_FACTOR = 0.1

Phase = Literal["fallback", "sparse", "dense", "backoff"]
"""Why a poll happens: no history, before the expected window, inside it, or after it."""


@dataclass(frozen=True)
class PollPlan:
    """The schedule of one task: the expected completion window (None without history) and the gaps to use."""

    window: tuple[float, float] | None
    expected: float | None
    """How long such a task usually takes (the median of the history), None without history."""
    min_interval: float
    max_interval: float
    fallback_factor: float
    fallback_cap: float
    dense_interval: float
    jitter: float
    safety_check_after: float = 45.0

    def next_delay(self, age: float, rng: Callable[[], float] = random.random) -> tuple[float, Phase]:
        """Seconds until the next query of a task that is `age` seconds old, and the phase it belongs to."""
        spread = 1 + self.jitter * (2 * rng() - 1)
        if self.window is None:
            gap = min(self.fallback_cap, max(self.min_interval, age * self.fallback_factor * spread))
            return gap, "fallback"
        start, end = self.window
        if age < start:
            # For long windows, one safety check half-way (an unusually fast task is not left waiting long);
            # short windows go straight to their start, where the check costs more than it saves.
            halfway = start / 2 if start >= self.safety_check_after else 0.0
            target = halfway if age < halfway - self.min_interval else start
            return max(self.min_interval, target - age), "sparse"
        if age <= end:
            # Jitter only shortens dense gaps: the detection delay stays within dense_interval.
            return max(self.min_interval, self.dense_interval * min(1.0, spread)), "dense"
        # Past the window the task is late: let the gaps grow slowly, a tenth of the lateness.
        gap = self.dense_interval + (age - end) * BACKOFF_FACTOR
        return min(self.max_interval, max(self.min_interval, gap * spread)), "backoff"


@dataclass(frozen=True)
class PollSchedule:
    """Builds each task's PollPlan from the durations of earlier tasks with the same model, mode and duration."""

    min_interval: float = 2.0
    max_interval: float = 10.0
    fallback_factor: float = 0.25
    fallback_cap: float = 4.5  # without history the detection delay stays under ~5 s
    dense_interval: float = 2.5  # inside the window it stays under 3 s
    jitter: float = 0.1
    min_history: int = 5
    min_spread: float = 0.1  # of the mean duration: assume durations vary at least ±5 %

    def plan(self, history: Sequence[float] = ()) -> PollPlan:
        """The plan for a task whose profile took `history` seconds before (most recent first)."""
        window = None
        if len(history) >= self.min_history:
            # A few samples understate the spread: widen the seen range by one dense gap, plus half the range
            # before it and the whole range after it (staying dense longer only costs queries for late tasks).
            # Five samples can also cluster by chance, so the spread is taken as at least `min_spread` of the mean.
            low, high = min(history), max(history)
            spread = max(high - low, self.min_spread * sum(history) / len(history))
            window = (max(0.0, low - self.dense_interval - spread / 2), high + self.dense_interval + spread)
        dense = min(self.max_interval, max(self.min_interval, self.dense_interval))
        return PollPlan(
            window=window,
            expected=statistics.median(history) if history else None,
            min_interval=self.min_interval,
            max_interval=self.max_interval,
            fallback_factor=self.fallback_factor,
            fallback_cap=max(self.min_interval, min(self.max_interval, self.fallback_cap)),
            dense_interval=dense,
            jitter=self.jitter,
        )
