"""Opens the journal a setting names: a PostgreSQL URL, or else an SQLite file."""

from __future__ import annotations

from pathlib import Path

from kling_mcp.service.journal.base import TaskJournal


def open_journal(location: str | Path, *, write_wait: float | None = None) -> TaskJournal:
    """The journal at `location` (a file path; created with its folder when missing), schema brought up to date.

    `write_wait`: how long a write may wait for another writer's lock (seconds). Failures raise `JournalError`.
    """
    from kling_mcp.service.journal.sqlite import DEFAULT_WRITE_WAIT, SqliteJournal

    return SqliteJournal(location, write_wait=DEFAULT_WRITE_WAIT if write_wait is None else write_wait)
