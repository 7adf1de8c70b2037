"""Wake-ups across replicas with PostgreSQL's LISTEN/NOTIFY on the journal's database.

A callback may land on any replica; the call waiting for that task may be on another. The receiving replica sends
`NOTIFY` with the task id; every replica `LISTEN`s on one dedicated connection in a thread and wakes its own waiting
calls. A notification lost while a replica reconnects costs only latency: the safety-net poll still finds the task.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

import anyio.from_thread
import anyio.lowlevel
import anyio.to_thread
import psycopg

from kling_mcp.logs import redact

if TYPE_CHECKING:
    from kling_mcp.service.wait.poller import Hurry

logger = logging.getLogger(__name__)

CHANNEL = "kling_mcp_task_changed"
RECONNECT_SECONDS = 1.0
STOP_CHECK_SECONDS = 0.5  # how often the listening thread looks whether it should stop


class PostgresWakeups:
    """Publishes wake-ups with NOTIFY and turns every replica's notifications into local wake-ups."""

    def __init__(self, url: str, hurry: Hurry) -> None:
        self._url = url
        self._hurry = hurry
        self._token = anyio.lowlevel.current_token()  # the event loop the waiting calls live on
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._listen_forever, name="kling-mcp-listen", daemon=True)
        self._thread.start()

    async def publish(self, task_id: str) -> None:
        """Wake the waiting calls here at once, and in every replica through the database."""
        self._hurry(task_id)
        await anyio.to_thread.run_sync(self._notify, task_id)

    def _notify(self, task_id: str) -> None:
        # A connection of its own (callbacks are a few per task): the journal may not even be open on this replica.
        try:
            with psycopg.connect(self._url, autocommit=True, connect_timeout=5) as conn:
                conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, task_id))
        except psycopg.Error as exc:  # the other replicas' safety-net polls still find the task
            logger.warning("could not NOTIFY the other replicas about task %s: %s", task_id, redact(str(exc).strip()))

    def close(self) -> None:
        """Stop the listening thread (within STOP_CHECK_SECONDS)."""
        self._stop.set()
        self._thread.join(timeout=5)

    def _listen_forever(self) -> None:
        while not self._stop.is_set():
            try:
                self._listen_once()
            except (psycopg.Error, OSError) as exc:
                logger.warning("journal LISTEN connection lost (%s); reconnecting", redact(str(exc).strip()))
                self._stop.wait(RECONNECT_SECONDS)
            except RuntimeError:  # the event loop is gone: the server is shutting down
                return

    def _listen_once(self) -> None:
        with psycopg.connect(self._url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f"LISTEN {CHANNEL}")
            while not self._stop.is_set():
                for notice in conn.notifies(timeout=STOP_CHECK_SECONDS):
                    woken = anyio.from_thread.run_sync(self._hurry, notice.payload, token=self._token)
                    logger.debug("wake-up for task %s from the journal: %d call(s) here", notice.payload, woken)
