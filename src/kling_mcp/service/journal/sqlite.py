"""The embedded journal: one SQLite file in WAL mode, which several server processes on one machine may share.

SQLite must not sit on a network file system; replicas on several machines share a PostgreSQL journal instead.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kling_mcp.service.journal.schema import SQLITE
from kling_mcp.service.journal.sql import Cursor, SqlJournal


def _dict_row(cursor: sqlite3.Cursor, row: tuple[Any, ...]) -> dict[str, Any]:
    return {column[0]: value for column, value in zip(cursor.description, row, strict=True)}


class SqliteJournal(SqlJournal):
    """Thread-safe access to the journal file; every method is one short transaction."""

    dialect = SQLITE

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), timeout=10.0, check_same_thread=False, isolation_level=None)
        self._db.row_factory = _dict_row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=10000")
        with self._transaction() as cursor:  # BEGIN IMMEDIATE: one process migrates, the others wait and see it done
            self._migrate(cursor)

    @property
    def where(self) -> str:
        """The journal file's path."""
        return str(self.path)

    @contextmanager
    def _transaction(self) -> Iterator[Cursor]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db.cursor()
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    @contextmanager
    def _reading(self) -> Iterator[Cursor]:
        with self._lock:
            yield self._db.cursor()

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._db.close()
