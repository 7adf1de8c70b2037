"""The task journal: remembers every paid task, from intent to finished video.

The intent is written *before* the create request, the task id right after it, so a crash, a restart or a client
that stopped listening can never lose a task. `base.TaskJournal` is the interface; `sqlite` and the SQL shared by
every backend (`sql`, `schema`) implement it; `open_journal` picks the backend from the `KLING_MCP_JOURNAL` setting.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from kling_mcp.config import is_database_url
from kling_mcp.service.journal.base import DEFAULT_WRITE_WAIT, JournalConnectionError, TaskJournal
from kling_mcp.service.journal.entry import CREATE_FAILED, CREATING, NEVER_CREATED, UNKNOWN, JournalEntry
from kling_mcp.service.journal.handle import TaskHandle
from kling_mcp.service.journal.problems import JournalError, JournalProblem, describe_journal_error

__all__ = [
    "CREATE_FAILED",
    "CREATING",
    "NEVER_CREATED",
    "UNKNOWN",
    "JournalBackendMissingError",
    "JournalConnectionError",
    "JournalEntry",
    "JournalError",
    "JournalProblem",
    "TaskHandle",
    "TaskJournal",
    "describe_journal_error",
    "open_journal",
    "require_backend",
]

if TYPE_CHECKING:
    from kling_mcp.service.journal.sql import SqlJournal


class JournalBackendMissingError(RuntimeError):
    """A PostgreSQL journal is configured but the driver is not installed."""


MISSING_DRIVER = (
    "KLING_MCP_JOURNAL names a PostgreSQL database, but psycopg is not installed: pip install 'kling-mcp[postgres]'"
)


def require_backend(location: str | Path) -> None:
    """Raise `JournalBackendMissingError` now if `location` needs a driver this installation lacks.

    Called before a server starts, so a missing driver stops it with one line instead of failing every call.
    """
    if isinstance(location, str) and is_database_url(location):
        try:
            import kling_mcp.service.journal.postgres  # noqa: F401 - imported for the driver it needs
        except ImportError as exc:
            raise JournalBackendMissingError(MISSING_DRIVER) from exc


def open_journal(location: str | Path, *, write_wait: float | None = None) -> SqlJournal:
    """The journal at `location`, schema brought up to date.

    A `postgresql://` URL opens the shared PostgreSQL journal; anything else is an SQLite file (created with its
    folder when missing). `write_wait`: how long a write may wait for another writer's lock (seconds).
    """
    wait = DEFAULT_WRITE_WAIT if write_wait is None else write_wait
    if isinstance(location, str) and is_database_url(location):
        try:
            from kling_mcp.service.journal.postgres import PostgresJournal
        except ImportError as exc:
            raise JournalBackendMissingError(MISSING_DRIVER) from exc
        return PostgresJournal(location, write_wait=wait)
    from kling_mcp.service.journal.sqlite import SqliteJournal

    return SqliteJournal(location, write_wait=wait)
