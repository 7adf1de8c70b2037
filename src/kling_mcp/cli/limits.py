"""`kling-mcp spend-limit`: the operator's per-owner spend limits, kept in the task journal (docs/limits.md)."""

from __future__ import annotations

from kling_mcp.cli import printer
from kling_mcp.config import Settings


def run_spend_limit(settings: Settings, owner: str | None, units: float | None, *, clear: bool = False) -> int:
    """List the owners' own limits, or set (`units`) or remove (`clear`) one owner's; returns the exit code."""
    from kling_mcp.service.journal import open_journal

    say = printer()
    if owner is None:
        if units is not None or clear:
            say("spend-limit: name the owner (token:<label>, oauth:<subject>, local:<user>)")
            return 2
    elif (units is None) == (not clear):
        say("spend-limit: give either the units (a number above 0) or --clear")
        return 2
    elif units is not None and units <= 0:
        say(f"spend-limit: units must be above 0; got {units:g}")
        return 2
    journal = open_journal(settings.resolved_journal(), write_wait=settings.journal_write_wait)
    try:
        if owner is not None:
            journal.set_spend_limit(owner, None if clear else units)
        limits = journal.spend_limits()
    finally:
        journal.close()
    default = f"{settings.spend_limit:g}" if settings.spend_limit is not None else "none"
    say(f"Default (KLING_MCP_SPEND_LIMIT): {default} units per 24 h. Journal: {journal.where}")
    for name, limit in limits.items():
        say(f"{name}: {limit:g} units per 24 h")
    if not limits:
        say("No owner has a limit of their own.")
    return 0
