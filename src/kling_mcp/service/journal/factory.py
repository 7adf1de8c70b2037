"""Opens the journal a setting names: a PostgreSQL URL, or else an SQLite file."""

from __future__ import annotations

from pathlib import Path

from kling_mcp.service.journal.base import TaskJournal


def open_journal(location: str | Path) -> TaskJournal:
    """The journal at `location` (a file path; created with its folder when missing), schema brought up to date."""
    from kling_mcp.service.journal.sqlite import SqliteJournal

    return SqliteJournal(location)
