"""A journal that is opened on first use and again after a failed open, so a broken journal never stops the server.

A journal that cannot be opened (read-only folder, full disk, a file that is not a database) must not turn every tool
call into a bare "Error executing tool": each call that needs the journal gets a `JournalError` that says what is
wrong, and once the operator has fixed it the next call opens the journal, without a restart.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from urllib.parse import urlsplit, urlunsplit

from kling_mcp.service.journal.problems import JournalError, JournalProblem, describe_journal_error
from kling_mcp.service.journal.sql import Cursor, SqlJournal

logger = logging.getLogger(__name__)


def safe_location(location: str) -> str:
    """The location as it may be shown: a database URL without its password."""
    if "://" not in location:
        return location
    parts = urlsplit(location)
    if parts.password is None:
        return location
    host = parts.hostname or ""
    netloc = f"{parts.username}@{host}" if parts.username else host
    netloc += f":{parts.port}" if parts.port else ""
    return urlunsplit(parts._replace(netloc=netloc))


class ReopeningJournal(SqlJournal):
    """A `TaskJournal` that opens the real one lazily and retries the open on each use until it succeeds.

    It runs the journal's own queries (`SqlJournal`'s methods) on the real journal's transactions: only opening,
    `where` and `close` are its own, so a new journal method needs no forwarding here.
    """

    def __init__(self, opener: Callable[[], SqlJournal], location: str) -> None:
        self._opener = opener
        self._location = safe_location(location)
        self._journal: SqlJournal | None = None
        self._lock = threading.Lock()
        self._closed = False

    def _open(self) -> SqlJournal:
        with self._lock:
            if self._journal is None:
                if self._closed:
                    raise JournalError(JournalProblem("unavailable", "the journal was closed (the server is stopping)"))
                try:
                    self._journal = self._opener()
                except Exception as exc:
                    problem = describe_journal_error(exc)
                    logger.warning("task journal %s cannot be opened (%s)", self._location, problem.text)
                    raise JournalError(problem) from exc
                self.dialect = self._journal.dialect  # read by every query, each after a transaction opened it
            return self._journal

    def _transaction(self) -> AbstractContextManager[Cursor]:
        return self._open()._transaction()

    def _reading(self) -> AbstractContextManager[Cursor]:
        return self._open()._reading()

    @property
    def where(self) -> str:
        """Where the journal lives (known before it is opened)."""
        return self._journal.where if self._journal is not None else self._location

    def close(self) -> None:
        """Close the journal if it was opened."""
        with self._lock:
            self._closed = True
            if self._journal is not None:
                self._journal.close()
