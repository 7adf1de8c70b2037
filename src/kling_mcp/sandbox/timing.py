"""Realistic task durations for the sandbox: similar times per model/mode/duration, spread like a real queue.

Kling does not publish durations; these bases follow what integrators report (about 30 s to several minutes, pro
and longer videos slower). Every number is a setting, and `scale` compresses them for quick runs.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field

# Seconds for a 5 s video in std mode.
BASE_SECONDS: dict[str, float] = {
    "kling-v1": 70.0,
    "kling-v1-5": 80.0,
    "kling-v1-6": 85.0,
    "kling-v2-master": 110.0,
    "kling-v2-1": 75.0,
    "kling-v2-1-master": 120.0,
    "kling-v2-5-turbo": 45.0,
    "kling-v2-6": 90.0,
    "kling-v3": 100.0,
    "kling-v3-omni": 110.0,
    "kling-video-o1": 95.0,
}
PRO_FACTOR = 1.6


@dataclass
class RealisticDurations:
    """A `SandboxConfig.task_seconds` callable: base × mode × length × uniform(1 ± spread) × scale."""

    scale: float = 1.0
    spread: float = 0.06
    seed: int = 0
    _rng: random.Random = field(init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def mean(self, model: str, mode: str, duration: str) -> float:
        """The profile's typical duration in seconds (before the spread)."""
        seconds = float(duration) if duration.isdigit() else 5.0
        base = BASE_SECONDS.get(model, 90.0) * (PRO_FACTOR if mode == "pro" else 1.0)
        return base * (0.5 + seconds / 10) * self.scale  # a 10 s video takes 1.5 × a 5 s one

    def __call__(self, model: str, mode: str, duration: str) -> float:
        with self._lock:
            jitter = self._rng.uniform(1 - self.spread, 1 + self.spread)
        return self.mean(model, mode, duration) * jitter
