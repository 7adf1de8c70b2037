"""Journal writes from async code: an intent must be written before spending, a later write must never lose a task.

The intent is written before the create request: if that fails nothing has been sent, so the call is refused. A
write *after* the create (the task id, a status) is different: the task exists and is paid for, so a failed write
must not fail the call. It is kept in memory and retried in order — before the next write, and by a background
thread — until it lands, however long the journal is down, while the caller is told the journal could not record
it. If the process dies first, the intent (already in the journal, without a task id) is resolved by its
external_task_id at the next start (`IntentResolver.sweep`).

Memory stays bounded: at most `MAX_PENDING` writes are kept. Past that the oldest *status refresh* (a status a
lookup or a poll saw: Kling still has it, and the next lookup writes it again) is dropped, logged and counted. A
write that records a created task (its id, an intent's outcome) is never dropped for room; there are few of them,
since no new task is created while the journal cannot take its intent.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import anyio.to_thread

from kling_mcp.service.failures import JournalUnavailableError
from kling_mcp.service.journal import JournalEntry, TaskJournal, describe_journal_error
from kling_mcp.service.journal.ledger import SpendCheck, SpendLimitReached

logger = logging.getLogger(__name__)

# How often the background thread retries kept writes (seconds).
RETRY_INTERVAL_SECONDS = 5.0
# How long a caller's write waits for an earlier flush to finish before leaving its write to the background thread:
# without a bound, calls queued behind a flush stuck on a lock would each wait a full lock timeout in turn.
TURN_SECONDS = 5.0
# A write failing for a reason that is not a disk state (read-only, full, corrupt, locked) is tried this often
# before the journal is probed: if the journal answers, the write itself is at fault and is dropped (it would block
# every later write); if it does not, the journal is down and the write is kept until it lands.
MAX_UNCLASSIFIED_FAILURES = 3
# How many writes are kept in memory while the journal cannot take them (see the module's docstring for the policy).
MAX_PENDING = 10_000


@dataclass(eq=False)
class _Kept:
    """One kept write; `essential` when it records a created task (never dropped for room)."""

    key: str
    write: Callable[[], None]
    essential: bool


class JournalRecorder:
    """Runs journal writes in a worker thread; keeps and retries the ones that fail after a create."""

    def __init__(
        self, journal: TaskJournal, *, retry_interval: float = RETRY_INTERVAL_SECONDS, max_pending: int = MAX_PENDING
    ) -> None:
        self.journal = journal
        self._retry_interval = retry_interval
        self._max_pending = max_pending
        self._pending: list[_Kept] = []
        self.dropped = 0  # status refreshes dropped because `max_pending` writes were kept
        self._lock = threading.Lock()
        self._flushing = threading.Lock()
        self._failures: dict[str, int] = {}
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        # Reads get worker threads of their own: a burst of writes waiting for a lock must not hold them up.
        self.readers = anyio.CapacityLimiter(8)
        self._writers = anyio.CapacityLimiter(64)
        self._last_problem = ""

    async def intent(self, entry: JournalEntry, spend: SpendCheck | None = None) -> None:
        """Write a call's intent; if the journal cannot take it, refuse the call (nothing has been sent). With
        `spend`, `SpendLimitReached` (nothing written) when it would pass its owner's limit."""
        try:
            await anyio.to_thread.run_sync(self.journal.record_intent, entry, spend, limiter=self._writers)
        except SpendLimitReached:
            raise
        except Exception as exc:
            raise JournalUnavailableError(self.journal.where, describe_journal_error(exc), writing=True) from exc

    async def write(self, key: str, write: Callable[[], None]) -> str | None:
        """Apply a write about a created task; None when done, else a warning for the caller (the write is kept)."""
        return await anyio.to_thread.run_sync(self._write_now_or_keep, key, write, limiter=self._writers)

    def defer(self, key: str, write: Callable[[], None], *, essential: bool = False) -> None:
        """Queue a write for the background thread: for updates a caller must not wait for (a status seen).

        `essential`: it records a created task's id, so it is never dropped for room (see `MAX_PENDING`).
        """
        self._keep(_Kept(key, write, essential))
        self._wake.set()

    def _keep(self, kept: _Kept) -> None:
        with self._lock:
            self._pending.append(kept)
            if len(self._pending) <= self._max_pending:
                return
            # The head may be being written right now: the oldest refresh after it makes room.
            victim = next((k for k in self._pending[1:] if not k.essential), None)
            if victim is None:
                return  # only created tasks' writes: kept all the same (no new task is made while the journal is down)
            self._pending.remove(victim)
            self.dropped += 1
            dropped = self.dropped
        if dropped == 1 or dropped % 1000 == 0:
            logger.warning(
                "task journal %s: %d writes kept, the most kling-mcp keeps: dropped the oldest status refresh (for "
                "%s; %d so far); Kling still has every status, and writes recording a created task are all kept",
                self.journal.where,
                self._max_pending,
                victim.key,
                dropped,
            )

    def _write_now_or_keep(self, key: str, write: Callable[[], None]) -> str | None:
        self._keep(_Kept(key, write, essential=True))
        if not self._flushing.acquire(timeout=TURN_SECONDS):
            problem = "an earlier journal write is still waiting for the journal"
        else:
            try:
                if self._flush_held() == 0:
                    return None
            finally:
                self._flushing.release()
            problem = self._last_problem
        logger.warning("task journal %s could not record task %s (%s); will retry", self.journal.where, key, problem)
        return (
            f"The task journal at {self.journal.where} could not record this task ({problem}): kling-mcp keeps "
            "retrying the write in the background and at its next start, but keep the ids above until it succeeds."
        )

    def flush(self) -> int:
        """Retry the kept writes in order, stopping at the first that still fails; returns how many are left.

        `_lock` guards only the list (the event loop's `defer` takes it, so it is never held across a write);
        `_flushing` makes flushes take turns, which keeps the writes in order.
        """
        with self._flushing:
            return self._flush_held()

    def _flush_held(self) -> int:
        while True:
            with self._lock:
                if not self._pending:
                    return 0
                kept = self._pending[0]
            key = kept.key
            try:
                kept.write()
            except Exception as exc:
                problem = describe_journal_error(exc)
                self._last_problem = problem.text
                verdict = "down"
                if problem.kind == "unavailable" and self._count_failure(key) >= MAX_UNCLASSIFIED_FAILURES:
                    verdict = self._retry_verdict(kept)
                if verdict == "down":
                    with self._lock:
                        return len(self._pending)
                if verdict == "at fault":  # retrying it forever would block every later write
                    logger.error("dropped journal write for %s after repeated failures: %s", key, problem.text)
            with self._lock:
                self._pending.remove(kept)
                self._failures.pop(key, None)
            logger.debug("journal write for %s done", key)

    def _retry_verdict(self, kept: _Kept) -> Literal["down", "done", "at fault"]:
        """After repeated unclassified failures: "down" if the journal answers no statement (a database stopped:
        the write is kept), else the write is tried once more — "done" (the journal had just come back, and its
        first statement failed on a dead connection), or "at fault" (it fails while the journal answers)."""
        try:
            self.journal.schema_version()
        except Exception:
            return "down"
        try:
            kept.write()
        except Exception:
            return "at fault"
        return "done"

    def _count_failure(self, key: str) -> int:
        with self._lock:
            self._failures[key] = self._failures.get(key, 0) + 1
            return self._failures[key]

    def start(self) -> None:
        """Start the background thread that retries kept writes."""
        self._thread = threading.Thread(target=self._run, name="kling-mcp-journal-retry", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            woken = self._wake.wait(self._retry_interval)
            self._wake.clear()
            if self._pending and not self._stop.is_set():
                left = self.flush()
                if left or not woken:
                    logger.info("retried kept journal writes: %d left", left)

    def stop(self) -> None:
        """Stop the thread after one last attempt at the kept writes."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=self._retry_interval + 1)
        left = self.flush()
        if left:
            logger.warning("%d journal write(s) could not be made; the next start resolves them at Kling", left)
