"""Journal writes from async code: an intent must be written before spending, a later write must never lose a task.

The intent is written before the create request: if that fails nothing has been sent, so the call is refused. A
write *after* the create (the task id, a status) is different: the task exists and is paid for, so a failed write
must not fail the call. It is kept in memory and retried in order — before the next write, and by a background
thread — while the caller is told the journal could not record it. If the process dies first, the intent (already
in the journal, without a task id) is resolved by its external_task_id at the next start (`VideoService.sweep`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import anyio.to_thread

from kling_mcp.service.errors import JournalUnavailableError
from kling_mcp.service.journal import JournalEntry, TaskJournal, describe_journal_error

logger = logging.getLogger(__name__)

# How often the background thread retries kept writes (seconds).
RETRY_INTERVAL_SECONDS = 5.0


class JournalRecorder:
    """Runs journal writes in a worker thread; keeps and retries the ones that fail after a create."""

    def __init__(self, journal: TaskJournal, *, retry_interval: float = RETRY_INTERVAL_SECONDS) -> None:
        self.journal = journal
        self._retry_interval = retry_interval
        self._pending: list[tuple[str, Callable[[], None]]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # Reads get worker threads of their own: a burst of writes waiting for a lock must not hold them up.
        self.readers = anyio.CapacityLimiter(8)
        self._writers = anyio.CapacityLimiter(64)
        self._last_problem = ""

    @property
    def pending(self) -> int:
        """How many writes are waiting to be retried."""
        with self._lock:
            return len(self._pending)

    async def intent(self, entry: JournalEntry) -> None:
        """Write a call's intent; if the journal cannot take it, refuse the call (nothing has been sent)."""
        try:
            await anyio.to_thread.run_sync(self.journal.record_intent, entry, limiter=self._writers)
        except Exception as exc:
            raise JournalUnavailableError(self.journal.where, describe_journal_error(exc), writing=True) from exc

    async def write(self, key: str, write: Callable[[], None]) -> str | None:
        """Apply a write about a created task; None when done, else a warning for the caller (the write is kept)."""
        return await anyio.to_thread.run_sync(self._write_now_or_keep, key, write, limiter=self._writers)

    def _write_now_or_keep(self, key: str, write: Callable[[], None]) -> str | None:
        with self._lock:
            self._pending.append((key, write))
        if self.flush() == 0:
            return None
        with self._lock:
            problem = self._last_problem
        logger.warning("task journal %s could not record task %s (%s); will retry", self.journal.where, key, problem)
        return (
            f"The task journal at {self.journal.where} could not record this task ({problem}): kling-mcp keeps "
            "retrying the write in the background and at its next start, but keep the ids above until it succeeds."
        )

    def flush(self) -> int:
        """Retry the kept writes in order, stopping at the first that still fails; returns how many are left."""
        with self._lock:
            while self._pending:
                key, write = self._pending[0]
                try:
                    write()
                except Exception as exc:
                    self._last_problem = describe_journal_error(exc).text
                    return len(self._pending)
                self._pending.pop(0)
                logger.debug("journal write for %s done", key)
            return 0

    def start(self) -> None:
        """Start the background thread that retries kept writes."""
        self._thread = threading.Thread(target=self._run, name="kling-mcp-journal-retry", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._retry_interval):
            if self._pending:
                left = self.flush()
                logger.info("retried kept journal writes: %d left", left)

    def stop(self) -> None:
        """Stop the thread after one last attempt at the kept writes."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self._retry_interval + 1)
        left = self.flush()
        if left:
            logger.warning("%d journal write(s) could not be made; the next start resolves them at Kling", left)
