"""The spend limit: units per owner per rolling 24 h, checked (and the create reserved) with the intent's write."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from kling_mcp.service.journal.ledger import Spending

LIMIT_SETTING = "KLING_MCP_SPEND_LIMIT"
OVERRIDE_COMMAND = "kling-mcp spend-limit"


def _units(value: float) -> str:
    return f"{value:,.3f}".rstrip("0").rstrip(".")


def _when(moment: float, now: float) -> str:
    minutes = max(1, round((moment - now) / 60))
    stamp = datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"{stamp} (in about {minutes // 60} h {minutes % 60:02d} min)"


class SpendLimitError(Exception):
    """A create refused before anything was sent: it would pass its owner's spend limit. The message names the
    limit, what was spent, the estimate, and when room frees up."""

    def __init__(self, spending: Spending, estimate: float, *, now: float | None = None) -> None:
        self.spending = spending
        self.estimate = estimate
        self.frees_at = spending.frees_at(estimate)
        now = time.time() if now is None else now
        hours = f"{spending.window / 3600:g} h"
        which = f"the operator's limit for {spending.owner}" if spending.overridden else LIMIT_SETTING
        limit = _units(spending.limit or 0.0)
        if self.frees_at is not None:
            room = f"Room for it frees up at {_when(self.frees_at, now)}, as earlier tasks leave the {hours} window."
        else:
            room = "This create alone is over the limit: it never fits; choose a cheaper mode, model or duration."
        super().__init__(
            f"Spend limit reached: {spending.owner} has spent {_units(spending.spent)} of {limit} units in the last "
            f"{hours} ({which}; tasks still running count at their estimate), and this create is estimated at "
            f"{_units(estimate)} units. {room} No request was sent to Kling and nothing was billed. The server's "
            f"operator can change the limit ({OVERRIDE_COMMAND}, docs/limits.md)."
        )
