"""The embedded journal: one SQLite file in WAL mode, which several server processes on one machine may share.

SQLite must not sit on a network file system; replicas on several machines share a PostgreSQL journal instead.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from kling_mcp.service.journal.base import DEFAULT_WRITE_WAIT
from kling_mcp.service.journal.problems import JournalError, JournalProblem, ProblemKind, describe_journal_error
from kling_mcp.service.journal.schema import SCHEMA_VERSION, SQLITE
from kling_mcp.service.journal.sql import Cursor, SqlJournal

# A read never needs the write lock in WAL mode; it waits this long only for SQLite's brief internal locks.
READ_WAIT = 1.0

# SQLite's primary result codes (the low byte of an extended code) and what they mean for the operator.
_SQLITE_KINDS: dict[int, ProblemKind] = {
    5: "locked",  # SQLITE_BUSY
    6: "locked",  # SQLITE_LOCKED
    8: "read-only",  # SQLITE_READONLY
    11: "corrupt",  # SQLITE_CORRUPT
    13: "full",  # SQLITE_FULL
    26: "corrupt",  # SQLITE_NOTADB
}
SQLITE_CANTOPEN = 14


def sqlite_problem(exc: BaseException, path: Path) -> JournalProblem:
    """Classify an SQLite (or file system) failure on the journal at `path`."""
    if not isinstance(exc, sqlite3.Error):
        return describe_journal_error(exc)
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    kind = _SQLITE_KINDS.get(primary) if primary is not None else None
    if kind is None and primary == SQLITE_CANTOPEN and path.parent.exists() and not os.access(path.parent, os.W_OK):
        kind = "read-only"
    return JournalProblem(kind or "unavailable", str(exc) or type(exc).__name__)


def _create_private(path: Path) -> None:
    """Create the journal's folder (0700) and file (0600) if they are missing: the journal holds every prompt and
    video URL, so no other user of the machine may read it. Existing ones keep their modes (an operator's choice).

    SQLite gives the `-wal` and `-shm` files the database file's mode.
    """
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with suppress(FileExistsError):  # another process (or an earlier run) made it first
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))


def _dict_row(cursor: sqlite3.Cursor, row: tuple[Any, ...]) -> dict[str, Any]:
    return {column[0]: value for column, value in zip(cursor.description, row, strict=True)}


class SqliteJournal(SqlJournal):
    """Thread-safe access to the journal file; every method is one short transaction.

    Writes and reads use separate connections. WAL readers never need the write lock, so listing and looking up
    stay fast while another process writes; writes wait up to `write_wait` seconds in all — for this process's
    other writes and for another process's lock together — so queued writers fail (if at all) at their own
    deadline, never one after another. Every failure is raised as a classified `JournalError`.
    """

    dialect = SQLITE

    def __init__(self, path: Path | str, *, write_wait: float = DEFAULT_WRITE_WAIT) -> None:
        self.path = Path(path)
        self._write_wait = write_wait
        self._lock = threading.Lock()
        self._read_lock = threading.Lock()
        opened: list[sqlite3.Connection] = []
        try:
            with self._classified():
                if str(path) != ":memory:":
                    _create_private(self.path)
                self._db = self._connect(write_wait, opened)
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
                # An in-memory database exists once per connection: there, reads share the writer's connection.
                self._reader = self._db if str(path) == ":memory:" else self._connect(READ_WAIT, opened)
                if str(path) == ":memory:":
                    self._read_lock = self._lock
                if self._current_version() < SCHEMA_VERSION:
                    # BEGIN IMMEDIATE: one process migrates, the others see it done.
                    with self._transaction() as cursor:
                        self._migrate(cursor)
        except BaseException:
            # A corrupt or unwritable file fails after connecting: no caller can close a journal it never got.
            for db in opened:
                db.close()
            raise

    def _connect(self, wait: float, opened: list[sqlite3.Connection]) -> sqlite3.Connection:
        db = sqlite3.connect(str(self.path), timeout=wait, check_same_thread=False, isolation_level=None)
        opened.append(db)
        db.row_factory = _dict_row
        db.execute(f"PRAGMA busy_timeout={int(wait * 1000)}")
        return db

    def _current_version(self) -> int:
        """The schema version, read without the write lock (0 for a new file), so a start needs no lock."""
        with self._reading() as cursor:
            found = cursor.execute("SELECT name FROM sqlite_master WHERE name='journal_schema'").fetchall()
            if not found:
                return 0
            rows = cursor.execute("SELECT MAX(version) AS version FROM journal_schema").fetchall()
        return int(rows[0]["version"] or 0)

    @property
    def where(self) -> str:
        """The journal file's path."""
        return str(self.path)

    @contextmanager
    def _classified(self) -> Iterator[None]:
        try:
            yield
        except JournalError:
            raise
        except (sqlite3.Error, OSError) as exc:
            raise JournalError(sqlite_problem(exc, self.path)) from exc

    @contextmanager
    def _transaction(self) -> Iterator[Cursor]:
        deadline = time.monotonic() + self._write_wait
        if not self._lock.acquire(timeout=self._write_wait):
            waited = f"this process's other journal writes took longer than {self._write_wait:g} s"
            raise JournalError(JournalProblem("locked", waited))
        try:
            with self._classified():
                left = max(0.0, deadline - time.monotonic())
                self._db.execute(f"PRAGMA busy_timeout={int(left * 1000)}")
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db.cursor()
                    self._db.execute("COMMIT")  # can fail too (a full disk): then roll back like any failure
                except BaseException:
                    self._rollback()
                    raise
        finally:
            self._lock.release()

    def _rollback(self) -> None:
        try:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
        except sqlite3.Error:
            pass  # SQLite has rolled back already (it does on some I/O errors); the original error is what counts

    @contextmanager
    def _reading(self) -> Iterator[Cursor]:
        with self._read_lock, self._classified():
            yield self._reader.cursor()

    def close(self) -> None:
        """Close the database connections."""
        with self._lock:
            if self._reader is not self._db:
                with self._read_lock:
                    self._reader.close()
            self._db.close()
