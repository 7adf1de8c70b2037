"""A clock the test moves by hand: pass it where code takes a `clock` callable, then set `now`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class HandClock:
    """Answers `now` until the test moves it."""

    now: float = 1000.0

    def __call__(self) -> float:
        return self.now
