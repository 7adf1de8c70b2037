"""The task journal: an SQLite file that remembers every paid task, from intent to finished video.

The intent is written *before* the create request, the task id right after it, so a crash, a restart or a client
that stopped listening can never lose a task. Several server processes may share one file (WAL mode).
"""

from __future__ import annotations

import errno
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from kling_mcp.api.models import Task

SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (
    external_task_id TEXT PRIMARY KEY,
    task_id          TEXT UNIQUE,
    endpoint         TEXT NOT NULL,
    model            TEXT NOT NULL,
    mode             TEXT,
    duration         INTEGER,
    prompt           TEXT NOT NULL,
    start_image      TEXT,
    end_image        TEXT,
    status           TEXT NOT NULL,
    status_message   TEXT,
    videos           TEXT NOT NULL DEFAULT '[]',
    kling_created_ms INTEGER,
    kling_updated_ms INTEGER,
    created_at       REAL NOT NULL,
    updated_at       REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS tasks_by_created ON tasks (created_at DESC);
CREATE INDEX IF NOT EXISTS tasks_by_profile ON tasks (model, mode, duration, status);
"""

# Statuses of ours besides Kling's four: the create is under way, or its outcome could not be learnt.
CREATING = "creating"
CREATE_FAILED = "create_failed"
UNKNOWN = "unknown"
# The create never reached Kling: Kling still had no task with the external_task_id after the grace period.
NEVER_CREATED = "never_created"

ProblemKind = Literal["read-only", "full", "corrupt", "locked", "unavailable"]

_ADVICE: dict[ProblemKind, str] = {
    "read-only": "make the journal file and its folder writable for the server's user, or point KLING_MCP_JOURNAL "
    "at a writable file",
    "full": "free space on the disk that holds the journal, or point KLING_MCP_JOURNAL at a disk with room",
    "corrupt": "move the damaged file aside (kling-mcp starts a new journal; Kling keeps every task) or point "
    "KLING_MCP_JOURNAL at another file",
    "locked": "another process holds the journal's write lock; try again shortly, and if it lasts, find that "
    "process (`fuser <journal file>`) and end it",
    "unavailable": "check KLING_MCP_JOURNAL and the server's log",
}


@dataclass(frozen=True)
class JournalProblem:
    """Why the journal cannot be used, in a form any backend can give: a kind, the backend's words, and advice."""

    kind: ProblemKind
    detail: str

    @property
    def text(self) -> str:
        """`kind: detail`, e.g. `full: database or disk is full`."""
        return f"{self.kind}: {self.detail}"

    @property
    def advice(self) -> str:
        """What the operator should do about it."""
        return _ADVICE[self.kind]


# SQLite's primary result codes (the low byte of an extended code) and what they mean for the operator.
_SQLITE_KINDS: dict[int, ProblemKind] = {
    5: "locked",  # SQLITE_BUSY
    6: "locked",  # SQLITE_LOCKED
    8: "read-only",  # SQLITE_READONLY
    11: "corrupt",  # SQLITE_CORRUPT
    13: "full",  # SQLITE_FULL
    26: "corrupt",  # SQLITE_NOTADB
}
_ERRNO_KINDS: dict[int, ProblemKind] = {
    errno.EROFS: "read-only",
    errno.EACCES: "read-only",
    errno.EPERM: "read-only",
    errno.ENOSPC: "full",
    errno.EDQUOT: "full",
}


def describe_journal_error(exc: BaseException, path: Path | None = None) -> JournalProblem:
    """Classify a failure of the journal into read-only, full, corrupt, locked (or unavailable)."""
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        kind = _SQLITE_KINDS.get(code & 0xFF) if isinstance(code, int) else None
        if kind is None and code is not None and code & 0xFF == 14 and path is not None:  # SQLITE_CANTOPEN
            folder = path.parent
            kind = "read-only" if folder.exists() and not os.access(folder, os.W_OK) else None
        return JournalProblem(kind or "unavailable", str(exc) or type(exc).__name__)
    if isinstance(exc, OSError):
        return JournalProblem(_ERRNO_KINDS.get(exc.errno or 0, "unavailable"), exc.strerror or str(exc))
    return JournalProblem("unavailable", type(exc).__name__)


@dataclass
class JournalEntry:
    """One tool call's task as the journal knows it."""

    external_task_id: str
    endpoint: str
    model: str
    prompt: str
    mode: str | None = None
    duration: int | None = None
    start_image: str | None = None
    end_image: str | None = None
    task_id: str | None = None
    status: str = CREATING
    status_message: str | None = None
    videos: list[dict[str, str | None]] = field(default_factory=list)
    kling_created_ms: int | None = None
    kling_updated_ms: int | None = None
    created_at: float = 0.0
    updated_at: float = 0.0


_COLUMNS = (
    "external_task_id, task_id, endpoint, model, mode, duration, prompt, start_image, end_image, status, "
    "status_message, videos, kling_created_ms, kling_updated_ms, created_at, updated_at"
)


def _row_to_entry(row: sqlite3.Row) -> JournalEntry:
    values = dict(row)
    values["videos"] = json.loads(values["videos"] or "[]")
    return JournalEntry(**values)


class TaskJournal:
    """Thread-safe access to the journal file; every method is one short transaction."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), timeout=10.0, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=10000")
        with self._lock:
            self._db.executescript(SCHEMA)  # executescript manages its own transaction

    @property
    def where(self) -> str:
        """The journal file's path."""
        return str(self.path)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._db.close()

    def record_intent(self, entry: JournalEntry) -> None:
        """Write a call's intent before its create request is sent."""
        now = time.time()
        entry.created_at = entry.updated_at = now
        with self._transaction() as db:
            db.execute(
                f"INSERT INTO tasks ({_COLUMNS}) VALUES ({', '.join('?' * 16)})",
                (
                    entry.external_task_id,
                    entry.task_id,
                    entry.endpoint,
                    entry.model,
                    entry.mode,
                    entry.duration,
                    entry.prompt,
                    entry.start_image,
                    entry.end_image,
                    entry.status,
                    entry.status_message,
                    json.dumps(entry.videos),
                    entry.kling_created_ms,
                    entry.kling_updated_ms,
                    entry.created_at,
                    entry.updated_at,
                ),
            )

    def record_task(self, task: Task, external_task_id: str | None = None, endpoint: str = "image2video") -> None:
        """Store Kling's view of a task: its id, status, message and videos."""
        key = external_task_id or task.external_task_id
        videos = json.dumps(
            [{"id": v.id, "url": v.url, "watermark_url": v.watermark_url, "duration": v.duration} for v in task.videos]
        )
        with self._transaction() as db:
            updated = db.execute(
                "UPDATE tasks SET task_id=?, status=?, status_message=?, videos=?, kling_created_ms=?, "
                "kling_updated_ms=?, updated_at=? WHERE external_task_id=? OR task_id=?",
                (
                    task.task_id,
                    task.status,
                    task.task_status_msg,
                    videos,
                    task.created_at,
                    task.updated_at,
                    time.time(),
                    key,
                    task.task_id,
                ),
            ).rowcount
        if not updated:
            # A task this journal did not create (another journal, or made outside kling-mcp): remember it too.
            self.record_intent(
                JournalEntry(
                    external_task_id=key or f"kling:{task.task_id}",
                    endpoint=endpoint,
                    model="",
                    prompt="",
                    task_id=task.task_id,
                )
            )
            self.record_task(task, key or f"kling:{task.task_id}", endpoint)

    def record_status(self, external_task_id: str, status: str, message: str | None) -> None:
        """Mark a call whose create did not yield a task (failed, or outcome unknown)."""
        with self._transaction() as db:
            db.execute(
                "UPDATE tasks SET status=?, status_message=?, updated_at=? WHERE external_task_id=?",
                (status, message, time.time(), external_task_id),
            )

    def get(self, any_id: str) -> JournalEntry | None:
        """The entry with this Kling task id or external task id."""
        with self._lock:
            row = self._db.execute(
                f"SELECT {_COLUMNS} FROM tasks WHERE task_id=? OR external_task_id=? LIMIT 1", (any_id, any_id)
            ).fetchone()
        return _row_to_entry(row) if row else None

    def durations(self, model: str, mode: str | None, duration: int | None, *, limit: int = 20) -> list[float]:
        """Seconds from creation to success of the latest finished tasks of one profile (newest first)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT (kling_updated_ms - kling_created_ms) / 1000.0 FROM tasks WHERE model=? AND mode IS ? "
                "AND duration IS ? AND status='succeed' AND kling_created_ms IS NOT NULL "
                "AND kling_updated_ms > kling_created_ms ORDER BY created_at DESC LIMIT ?",
                (model, mode, duration, limit),
            ).fetchall()
        return [float(r[0]) for r in rows]

    def recent(self, *, limit: int = 20, status: str | None = None) -> list[JournalEntry]:
        """The newest entries first, optionally only those with one status."""
        query = f"SELECT {_COLUMNS} FROM tasks"
        params: tuple[object, ...] = ()
        if status is not None:
            query += " WHERE status=?"
            params = (status,)
        query += " ORDER BY created_at DESC LIMIT ?"
        with self._lock:
            rows = self._db.execute(query, (*params, limit)).fetchall()
        return [_row_to_entry(r) for r in rows]
