"""A transaction that survives its connection dying: statements are remembered and replayed on a fresh one.

A database restart or failover cuts the connections in use. A journal write cut off that way must not turn into a
failed tool call after Kling has created (and billed) the task, so the transaction is replayed from its first
statement on a new connection from the pool, which waits for the database to come back (up to its timeout). If the
COMMIT itself was cut off, the first attempt may have landed: a replayed INSERT then meets its own row, and that
duplicate key means the transaction is already done.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from typing import Any

import psycopg
import psycopg.errors
from psycopg_pool import ConnectionPool

logger = logging.getLogger(__name__)


class ReplayingCursor:
    """The journal's cursor for one transaction on a pooled connection (see the module docstring)."""

    def __init__(self, pool: ConnectionPool[Any]) -> None:
        self._pool = pool
        self._done: list[tuple[str, Sequence[Any]]] = []
        self._conn: psycopg.Connection[Any] | None = None
        try:
            self._begin()
        except psycopg.OperationalError as exc:  # died between the pool's check and our BEGIN
            try:
                self._reconnect_if_lost(exc)
            except BaseException:
                self.release()  # no transaction owns this cursor yet to give the connection back
                raise

    def _begin(self) -> None:
        self._conn = self._pool.getconn()
        self._cursor = self._conn.cursor()
        self._cursor.execute("BEGIN")

    def _reconnect_if_lost(self, exc: psycopg.OperationalError) -> None:
        # Only a dead connection is worth a replay. A statement the database refused on a live one (a lock it could
        # not get within lock_timeout, a full disk) would be refused again: that error is the answer.
        if self._conn is not None and not self._conn.closed and not self._conn.broken:
            raise exc
        logger.info("journal connection lost (%s); replaying the transaction on a new one", type(exc).__name__)
        self.release()
        self._begin()
        for sql, params in self._done:
            self._cursor.execute(sql, params)

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    def execute(self, query: Any, params: Sequence[Any] = (), /) -> ReplayingCursor:
        try:
            self._cursor.execute(query, params)
        except psycopg.OperationalError as exc:
            self._reconnect_if_lost(exc)
            self._cursor.execute(query, params)
        self._done.append((query, params))
        return self

    def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    def commit(self) -> None:
        """COMMIT; after a lost connection, replay and commit again (a duplicate key: the first one landed)."""
        try:
            self._cursor.execute("COMMIT")
        except psycopg.OperationalError as exc:
            try:
                self._reconnect_if_lost(exc)
            except psycopg.errors.UniqueViolation:
                self.rollback()
                return
            self._cursor.execute("COMMIT")

    def rollback(self) -> None:
        """ROLLBACK, if the connection still lives."""
        if self._conn is not None and not self._conn.closed:
            with contextlib.suppress(psycopg.Error):  # a broken connection: the server dropped the transaction
                self._cursor.execute("ROLLBACK")

    def release(self) -> None:
        """Hand the connection back to the pool (which discards a broken one)."""
        if self._conn is not None:
            self._pool.putconn(self._conn)
            self._conn = None
