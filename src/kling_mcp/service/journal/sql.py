"""The journal's queries, written once over a DB-API connection; the backends supply connections and a dialect."""

from __future__ import annotations

import json
import math
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

from kling_mcp.api.models import Task
from kling_mcp.redaction import for_storage
from kling_mcp.service.journal.element_rows import ElementQueries
from kling_mcp.service.journal.entry import COLUMNS, JournalEntry, entry_from_row, entry_values, videos_json
from kling_mcp.service.journal.handle import HANDLE_COLUMNS, TaskHandle, handle_from_row, handle_values
from kling_mcp.service.journal.ledger import SpendCheck, Spending, SpendLimitReached, owner_lock_key, units_of
from kling_mcp.service.journal.schema import SCHEMA_VERSION, VERSION_TABLE, Dialect, migration

_COLUMN_LIST = ", ".join(COLUMNS)
# Stored as given: the relay must reach the caller's own callback address exactly, credentials and all.
_UNSCRUBBED = frozenset({"callback_url"})


def _stored(value: object) -> object:
    """A value as written to the journal: text through the one scrubber (`redaction.for_storage`). An upstream
    error can echo the Authorization header (a live JWT) into a status message, and an image URL can carry
    `user:pass@`; neither may rest on disk."""
    return for_storage(value) if isinstance(value, str) else value


def _scrubbed(value: object) -> object:
    """A JSON-like value with every string in it as `_stored` keeps text (a reference video's `user:pass@` too)."""
    if isinstance(value, dict):
        return {key: _scrubbed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_scrubbed(item) for item in value]
    return _stored(value)


def _stored_entry(entry: JournalEntry) -> list[object]:
    values = [v if name in _UNSCRUBBED else _stored(v) for name, v in zip(COLUMNS, entry_values(entry), strict=True)]
    # The settings' strings one by one: scrubbing their JSON text whole could reach across a string's quotes.
    values[COLUMNS.index("settings")] = json.dumps(_scrubbed(entry.settings)) if entry.settings else None
    return values


_HANDLE_COLUMN_LIST = ", ".join(HANDLE_COLUMNS)


class Cursor(Protocol):
    """The part of a DB-API cursor the journal uses (sqlite3 and psycopg both fit); rows are dicts."""

    @property
    def rowcount(self) -> int: ...

    def execute(self, query: Any, params: Sequence[Any] = ..., /) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class SqlJournal(ElementQueries, ABC):
    """Every journal method as SQL; a subclass says how to get a cursor inside a transaction."""

    dialect: Dialect

    @abstractmethod
    def _transaction(self) -> AbstractContextManager[Cursor]:
        """A cursor inside one write transaction, committed on exit (rolled back on an exception)."""

    @abstractmethod
    def _reading(self) -> AbstractContextManager[Cursor]:
        """A cursor for one read."""

    @property
    @abstractmethod
    def where(self) -> str:
        """Where the journal lives, safe to log and show (see `TaskJournal.where`)."""

    @abstractmethod
    def close(self) -> None:
        """Release the database connection(s)."""

    def _execute(self, cursor: Cursor, sql: str, params: Sequence[object] = ()) -> Cursor:
        cursor.execute(self.dialect.render(sql), params)
        return cursor

    def _select(self, sql: str, params: Sequence[object] = ()) -> list[dict[str, Any]]:
        with self._reading() as cursor:
            return list(self._execute(cursor, sql, params).fetchall())

    def _migrate(self, cursor: Cursor) -> None:
        """Apply the migrations this journal lacks; the caller holds a transaction that serialises migrators."""
        self._execute(cursor, VERSION_TABLE)
        rows = self._execute(cursor, "SELECT MAX(version) AS version FROM journal_schema").fetchall()
        current = rows[0]["version"] or 0
        for number in range(current + 1, SCHEMA_VERSION + 1):
            for statement in migration(number, self.dialect):
                self._execute(cursor, statement)
            self._execute(cursor, "INSERT INTO journal_schema (version) VALUES (?)", (number,))

    def schema_version(self) -> int:
        """The number of the last migration this journal has applied."""
        rows = self._select("SELECT MAX(version) AS version FROM journal_schema")
        return int(rows[0]["version"] or 0)

    def record_intent(self, entry: JournalEntry, spend: SpendCheck | None = None) -> None:
        """Write a call's intent before its create request is sent.

        With `spend`, in the same transaction (one owner's checks take turns: two replicas cannot both pass the
        limit): raise `SpendLimitReached`, writing nothing, if the owner's spend plus the estimate would pass the
        limit; else the intent carries the estimate and counts from now on."""
        entry.created_at = entry.updated_at = time.time()
        with self._transaction() as cursor:
            if spend is not None and entry.owner is not None:
                entry.estimated_units = spend.estimate
                if self.dialect.owner_lock:
                    self._execute(cursor, self.dialect.owner_lock, (owner_lock_key(entry.owner),))
                spending = self._spending(cursor, entry.owner, spend.default_limit, entry.created_at, spend.window)
                if not spending.allows(spend.estimate):
                    raise SpendLimitReached(spending, spend.estimate)
            placeholders = ", ".join("?" * len(COLUMNS))
            self._execute(cursor, f"INSERT INTO tasks ({_COLUMN_LIST}) VALUES ({placeholders})", _stored_entry(entry))

    def spending(self, owner: str, default_limit: float | None, *, window: float) -> Spending:
        """`owner`'s spend within the last `window` seconds, and the limit that applies to it."""
        with self._reading() as cursor:
            return self._spending(cursor, owner, default_limit, time.time(), window)

    def _spending(self, cursor: Cursor, owner: str, default_limit: float | None, now: float, window: float) -> Spending:
        rows = self._execute(cursor, "SELECT units FROM spend_limits WHERE owner=?", (owner,)).fetchall()
        limit = float(rows[0]["units"]) if rows else default_limit
        charged = self._execute(
            cursor,
            "SELECT created_at, status, final_unit_deduction, estimated_units FROM tasks WHERE owner=? "
            "AND created_at>=? ORDER BY created_at",
            (owner, now - window),
        ).fetchall()
        charges = tuple((float(r["created_at"]), units_of(r)) for r in charged)
        spent = sum(units for _, units in charges)
        return Spending(owner, limit, spent, charges, window, overridden=bool(rows))

    def set_spend_limit(self, owner: str, units: float | None) -> None:
        """Set `owner`'s own spend limit (units per window), or with None remove it (the default applies again)."""
        with self._transaction() as cursor:
            self._execute(cursor, "DELETE FROM spend_limits WHERE owner=?", (owner,))
            if units is not None:
                insert = "INSERT INTO spend_limits (owner, units, set_at) VALUES (?, ?, ?)"
                self._execute(cursor, insert, (owner, units, time.time()))

    def spend_limits(self) -> dict[str, float]:
        """Every owner's own spend limit (the operator's overrides of KLING_MCP_SPEND_LIMIT)."""
        rows = self._select("SELECT owner, units FROM spend_limits ORDER BY owner")
        return {r["owner"]: float(r["units"]) for r in rows}

    def record_task(
        self,
        task: Task,
        external_task_id: str | None = None,
        endpoint: str = "image2video",
        kling_host: str | None = None,
        owner: str | None = None,
    ) -> None:
        """Store Kling's view of a task: its id, status, message and videos (`kling_host`: where it was found;
        `owner` owns it if it is new here)."""
        key = external_task_id or task.external_task_id
        with self._transaction() as cursor:
            updated = self._execute(
                cursor,
                "UPDATE tasks SET task_id=?, status=?, status_message=?, videos=?, kling_created_ms=?, "
                "kling_updated_ms=?, final_unit_deduction=COALESCE(?, final_unit_deduction), updated_at=? "
                "WHERE external_task_id=? OR task_id=?",
                (
                    task.task_id,
                    task.status,
                    _stored(task.task_status_msg),
                    _stored(videos_json(task)),
                    task.created_at,
                    task.updated_at,
                    task.final_unit_deduction or None,
                    time.time(),
                    key,
                    task.task_id,
                ),
            ).rowcount
        if not updated:
            # A task this journal did not create (another journal, or made outside kling-mcp): remember it too.
            adopted = key or f"kling:{task.task_id}"
            self.record_intent(
                JournalEntry(
                    external_task_id=adopted,
                    endpoint=endpoint,
                    model="",
                    prompt="",
                    task_id=task.task_id,
                    kling_host=kling_host,
                    owner=owner,
                )
            )
            self.record_task(task, adopted, endpoint)

    def record_status(self, external_task_id: str, status: str, message: str | None) -> None:
        """Mark a call whose create did not yield a task (failed, or outcome unknown)."""
        with self._transaction() as cursor:
            self._execute(
                cursor,
                "UPDATE tasks SET status=?, status_message=?, updated_at=? WHERE external_task_id=?",
                (status, _stored(message), time.time(), external_task_id),
            )

    def claim_relay(self, external_task_id: str, status: str, not_after: Sequence[str]) -> bool:
        """Mark `status` relayed unless the last relayed status is one of `not_after`; True if this call marked it."""
        placeholders = ", ".join("?" * len(not_after))
        refused = f" AND (relayed_status IS NULL OR relayed_status NOT IN ({placeholders}))" if not_after else ""
        with self._transaction() as cursor:
            return (
                self._execute(
                    cursor,
                    f"UPDATE tasks SET relayed_status=? WHERE external_task_id=?{refused}",
                    (status, external_task_id, *not_after),
                ).rowcount
                == 1
            )

    def release_relay(self, external_task_id: str, status: str, previous: str | None) -> None:
        """Give back a claim whose relay never got through: the last relayed status is `previous` again."""
        with self._transaction() as cursor:
            self._execute(
                cursor,
                "UPDATE tasks SET relayed_status=? WHERE external_task_id=? AND relayed_status=?",
                (previous, external_task_id, status),
            )

    def get(self, any_id: str) -> JournalEntry | None:
        """The entry with this Kling task id or external task id."""
        rows = self._select(
            f"SELECT {_COLUMN_LIST} FROM tasks WHERE task_id=? OR external_task_id=? LIMIT 1", (any_id, any_id)
        )
        return entry_from_row(rows[0]) if rows else None

    def durations(
        self, model: str, mode: str | None, duration: int | None, *, limit: int = 20, kling_host: str | None = None
    ) -> list[float]:
        """Seconds from creation to success of the latest finished tasks of one profile (newest first).

        With `kling_host`, only tasks of that Kling API (and entries from before hosts were recorded): a sandbox's
        few-second tasks must not teach the schedule how long Kling takes.
        """
        same = self.dialect.same
        host, params = _host_filter(kling_host)
        rows = self._select(
            "SELECT (kling_updated_ms - kling_created_ms) / 1000.0 AS seconds FROM tasks WHERE model=? "
            f"AND mode {same} ? AND duration {same} ? AND status='succeed' AND kling_created_ms IS NOT NULL "
            f"AND kling_updated_ms > kling_created_ms{host} ORDER BY created_at DESC LIMIT ?",
            (model, mode, duration, *params, limit),
        )
        return [float(r["seconds"]) for r in rows]

    def charges(self, profile: str, *, limit: int = 20, kling_host: str | None = None) -> list[float]:
        """Units Kling charged the latest succeeded tasks of one billing profile (newest first).

        With `kling_host`, only tasks of that Kling API: a sandbox's prices must not teach what Kling charges.
        A charge that is not a number is skipped.
        """
        host, params = _host_filter(kling_host)
        rows = self._select(
            "SELECT final_unit_deduction AS units FROM tasks WHERE profile=? AND status='succeed' "
            f"AND final_unit_deduction IS NOT NULL{host} ORDER BY created_at DESC LIMIT ?",
            (profile, *params, limit),
        )
        return [units for units in (_units(r["units"]) for r in rows) if units is not None]

    def charged_seconds(
        self, profile: str, *, limit: int = 20, kling_host: str | None = None
    ) -> list[tuple[float, float]]:
        """(units charged, seconds of video made) of the latest succeeded tasks of one billing profile (newest first).

        The seconds are the finished videos' lengths as Kling reported them (`videos`' `duration`); a task without
        them, or with a charge that is not a number, is skipped. With `kling_host`, as `charges`.
        """
        host, params = _host_filter(kling_host)
        rows = self._select(
            "SELECT final_unit_deduction AS units, videos FROM tasks WHERE profile=? AND status='succeed' "
            f"AND final_unit_deduction IS NOT NULL{host} ORDER BY created_at DESC LIMIT ?",
            (profile, *params, limit),
        )
        found: list[tuple[float, float]] = []
        for row in rows:
            units, seconds = _units(row["units"]), _video_seconds(row["videos"])
            if units is not None and seconds:
                found.append((units, seconds))
        return found

    def recent(
        self,
        *,
        limit: int = 20,
        status: str | None = None,
        kling_host: str | None = None,
        owner: str | None = None,
    ) -> list[JournalEntry]:
        """The newest entries first, optionally only those with one status, of one Kling API (as `durations`),
        and/or of one owner."""
        host, params = _host_filter(kling_host)
        query = f"SELECT {_COLUMN_LIST} FROM tasks WHERE 1=1{host}"
        for column, value in (("status", status), ("owner", owner)):
            if value is not None:
                query += f" AND {column}=?"
                params = (*params, value)
        query += " ORDER BY created_at DESC LIMIT ?"
        return [entry_from_row(r) for r in self._select(query, (*params, limit))]

    def record_handle(self, handle: TaskHandle) -> None:
        """Remember an MCP task handle (recording the same id again changes nothing)."""
        placeholders = ", ".join("?" * len(HANDLE_COLUMNS))
        with self._transaction() as cursor:
            self._execute(
                cursor,
                f"INSERT INTO task_handles ({_HANDLE_COLUMN_LIST}) VALUES ({placeholders}) "
                "ON CONFLICT (handle_id) DO NOTHING",
                handle_values(handle),
            )

    def get_handle(self, handle_id: str) -> TaskHandle | None:
        """The MCP task handle with this id."""
        rows = self._select(f"SELECT {_HANDLE_COLUMN_LIST} FROM task_handles WHERE handle_id=?", (handle_id,))
        return handle_from_row(rows[0]) if rows else None

    def owner_handles(self, owner: str, *, limit: int, offset: int = 0) -> list[TaskHandle]:
        """One owner's MCP task handles, newest first."""
        rows = self._select(
            f"SELECT {_HANDLE_COLUMN_LIST} FROM task_handles WHERE owner=? "
            "ORDER BY created_at DESC, handle_id LIMIT ? OFFSET ?",
            (owner, limit, offset),
        )
        return [handle_from_row(r) for r in rows]

    def cancel_handle(self, handle_id: str, at: float) -> None:
        """Mark a handle cancelled (a second cancellation keeps the first one's time)."""
        with self._transaction() as cursor:
            self._execute(
                cursor,
                "UPDATE task_handles SET cancelled_at=? WHERE handle_id=? AND cancelled_at IS NULL",
                (at, handle_id),
            )


def _units(text: str) -> float | None:
    """A `final_unit_deduction` as a number, None when it is not one."""
    try:
        units = float(text)
    except ValueError:
        return None
    return units if math.isfinite(units) and units >= 0 else None


def _video_seconds(videos: str | None) -> float | None:
    """The length of a task's videos (the journal's `videos` JSON; their durations summed), None when not known."""
    try:
        listed = json.loads(videos or "[]")
        total = sum(float(v["duration"]) for v in listed)
    except (ValueError, TypeError, KeyError):
        return None
    return total if listed and math.isfinite(total) and total > 0 else None


def _host_filter(kling_host: str | None) -> tuple[str, tuple[object, ...]]:
    """The WHERE clause part (and its parameter) that keeps one Kling API's tasks and the unlabelled old ones."""
    if kling_host is None:
        return "", ()
    return " AND (kling_host=? OR kling_host IS NULL)", (kling_host,)
