"""The shared journal: a PostgreSQL database that every replica of a deployment reads and writes.

psycopg 3 talks libpq, so `KLING_MCP_JOURNAL` may be any libpq URL (sockets, `sslmode`, service files). Its
connection pool checks a connection before handing it out, so after a database restart the next call gets a fresh
one, and a transaction whose connection dies under it is replayed on a new one (`replay.py`). A call made while the
database stays down fails with `JournalConnectionError`, whose text (like `where`) never holds the password.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from functools import partial
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from kling_mcp.logs import redact
from kling_mcp.service.journal.base import DEFAULT_WRITE_WAIT, JournalConnectionError
from kling_mcp.service.journal.problems import JournalError, JournalProblem, ProblemKind
from kling_mcp.service.journal.replay import ReplayingCursor
from kling_mcp.service.journal.schema import POSTGRESQL
from kling_mcp.service.journal.sql import Cursor, SqlJournal

logger = logging.getLogger(__name__)

# pg_advisory_xact_lock key that makes replicas starting at once apply the migrations one after another.
MIGRATION_LOCK = 0x6B6C696E67  # "kling"

# What the database says (its SQLSTATE) → the journal problem every backend reports, with advice for a database.
# Anything else (a lost connection, a wrong password) stays a `JournalConnectionError` ("unavailable").
_SQLSTATE_KINDS: dict[str, ProblemKind] = {
    "25006": "read-only",  # read_only_sql_transaction: a hot standby, or default_transaction_read_only
    "42501": "read-only",  # insufficient_privilege
    "53100": "full",  # disk_full
    "55P03": "locked",  # lock_not_available: lock_timeout passed
    "40P01": "locked",  # deadlock_detected
    "XX001": "corrupt",  # data_corrupted
    "XX002": "corrupt",  # index_corrupted
}
_ADVICE: dict[ProblemKind, str] = {
    "read-only": "the database refuses this user's writes: point KLING_MCP_JOURNAL at the primary (not a standby), "
    "or grant the user INSERT, UPDATE and DELETE on the journal's tables",
    "full": "the database server's disk is full: free space there",
    "corrupt": "the database reports damaged data: have its administrator repair it (Kling keeps every task)",
    "locked": "another session held a lock on the journal's tables longer than KLING_MCP_JOURNAL_WAIT; find it "
    "in pg_stat_activity and end it",
}


def describe_database(url: str) -> str:
    """A libpq URL or conninfo string as `postgresql://user@host:port/dbname`, without the password."""
    try:
        parts = conninfo_to_dict(url)
    except psycopg.Error:
        return redact(url)
    user = f"{parts['user']}@" if parts.get("user") else ""
    port = f":{parts['port']}" if parts.get("port") else ""
    return f"postgresql://{user}{parts.get('host') or 'localhost'}{port}/{parts.get('dbname') or ''}"


def _set_lock_timeout(conn: psycopg.Connection[Any], *, seconds: float) -> None:
    # In milliseconds. The pool's connections are in autocommit mode, so the whole session keeps the setting.
    conn.execute(f"SET lock_timeout = {max(1, round(seconds * 1000))}")


class PostgresJournal(SqlJournal):
    """A pool of connections to one database; every method borrows one for a single transaction."""

    dialect = POSTGRESQL

    def __init__(
        self, url: str, *, timeout: float = 5.0, max_connections: int = 10, write_wait: float = DEFAULT_WRITE_WAIT
    ) -> None:
        self._where = describe_database(url)
        password = conninfo_to_dict(url).get("password")
        self._secrets = (str(password),) if password else ()
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=max_connections,
            open=False,
            timeout=timeout,
            check=ConnectionPool.check_connection,  # a connection broken by a restart is replaced, not used
            # A write waits for another session's lock as long as an SQLite write would, then says "locked".
            configure=partial(_set_lock_timeout, seconds=write_wait),
            kwargs={"autocommit": True, "row_factory": dict_row, "connect_timeout": max(1, round(timeout))},
            name="kling-mcp-journal",
        )
        # Migrate over one direct connection first: a wrong URL or password fails here at once with libpq's reason,
        # where the pool would only retry in the background until its timeout.
        with (
            self._translated_errors(),
            psycopg.connect(url, autocommit=True, row_factory=dict_row, connect_timeout=max(1, round(timeout))) as conn,
            conn.transaction(),
            conn.cursor() as cursor,
        ):
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            self._migrate(cursor)
        self._pool.open(wait=False)

    @property
    def where(self) -> str:
        """The database, as a URL without the password."""
        return self._where

    @contextmanager
    def _translated_errors(self) -> Iterator[None]:
        try:
            yield
        except psycopg.Error as exc:
            # Dropped (`from None`): libpq's own text is carried over, scrubbed, and the chain could echo it raw.
            text = f"PostgreSQL journal {self._where}: {redact(str(exc).strip() or type(exc).__name__, self._secrets)}"
            kind = _SQLSTATE_KINDS.get(exc.sqlstate or "")
            if kind is None:
                raise JournalConnectionError(text) from None
            raise JournalError(JournalProblem(kind, text, _ADVICE[kind])) from None

    @contextmanager
    def _transaction(self) -> Iterator[Cursor]:
        with self._translated_errors():
            cursor = ReplayingCursor(self._pool)
            try:
                yield cursor
                cursor.commit()
            except BaseException:
                cursor.rollback()
                raise
            finally:
                cursor.release()

    def _reading(self) -> AbstractContextManager[Cursor]:
        return self._transaction()

    def close(self) -> None:
        """Close every pooled connection."""
        self._pool.close()
