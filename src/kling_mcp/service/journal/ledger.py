"""The spend ledger read from the journal: what one owner spent in the rolling window, and when room frees up.

Spent is Kling's `final_unit_deduction` where the journal has it, else the estimate the create was journaled with;
tasks still running count. A create Kling refused (or that never reached it) cost nothing, nor did a task that
failed without a charge (Kling does not bill failed tasks, docs/kling-api.md).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kling_mcp.service.journal.entry import CREATE_FAILED, NEVER_CREATED

WINDOW_SECONDS = 24 * 3600.0
# Statuses of a create that made no task, and of a task Kling does not charge unless it says otherwise.
_NOTHING_MADE = frozenset({CREATE_FAILED, NEVER_CREATED})
_UNCHARGED = "failed"


@dataclass(frozen=True)
class SpendCheck:
    """What a create is checked against: the default limit (None: no limit unless an override sets one), the
    window, and the units this create is expected to cost."""

    default_limit: float | None
    estimate: float
    window: float = WINDOW_SECONDS


@dataclass(frozen=True)
class Spending:
    """One owner's spend within the window: the limit that applies (None: none), the total, and each charge
    (created_at, units) oldest first, from which `frees_at` tells when enough room comes back."""

    owner: str
    limit: float | None
    spent: float
    charges: tuple[tuple[float, float], ...]
    window: float = WINDOW_SECONDS
    overridden: bool = False  # the limit is an operator's override for this owner, not KLING_MCP_SPEND_LIMIT

    def allows(self, estimate: float) -> bool:
        """Whether a create expected to cost `estimate` stays within the limit."""
        return self.limit is None or self.spent + estimate <= self.limit + 1e-9

    def frees_at(self, estimate: float) -> float | None:
        """When (epoch seconds) enough charges leave the window for `estimate` to fit; None when it fits now, when
        there is no limit, or never (it alone is over the limit)."""
        if self.limit is None or estimate > self.limit + 1e-9 or self.allows(estimate):
            return None
        left = self.spent
        for created_at, units in self.charges:
            left -= units
            if left + estimate <= self.limit + 1e-9:
                return created_at + self.window
        return None


class SpendLimitReached(Exception):
    """A create would pass its owner's spend limit; raised by the journal before the intent is written."""

    def __init__(self, spending: Spending, estimate: float) -> None:
        self.spending = spending
        self.estimate = estimate
        super().__init__(f"spend limit of {spending.owner} reached")


def units_of(row: Mapping[str, Any]) -> float:
    """What one journal row counts against its owner's limit (see the module docstring)."""
    if row["status"] in _NOTHING_MADE:
        return 0.0
    charged = row["final_unit_deduction"]
    if charged not in (None, ""):
        try:
            return float(charged)
        except ValueError:
            pass  # a charge Kling wrote in a form we cannot read: the estimate stands in for it
    if row["status"] == _UNCHARGED:
        return 0.0
    return float(row["estimated_units"] or 0.0)


def owner_lock_key(owner: str) -> int:
    """A signed 64-bit key for PostgreSQL's advisory lock on one owner's spend checks."""
    return int.from_bytes(hashlib.sha256(f"kling-mcp-spend:{owner}".encode()).digest()[:8], "big", signed=True)
