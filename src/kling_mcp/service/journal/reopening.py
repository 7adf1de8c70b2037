"""A journal that is opened on first use and again after a failed open, so a broken journal never stops the server.

A journal that cannot be opened (read-only folder, full disk, a file that is not a database) must not turn every tool
call into a bare "Error executing tool": each call that needs the journal gets a `JournalError` that says what is
wrong, and once the operator has fixed it the next call opens the journal, without a restart.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit, urlunsplit

from kling_mcp.api.models import Task
from kling_mcp.service.journal.base import TaskJournal
from kling_mcp.service.journal.entry import JournalEntry
from kling_mcp.service.journal.handle import TaskHandle
from kling_mcp.service.journal.problems import JournalError, JournalProblem, describe_journal_error

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


class ReopeningJournal:
    """A `TaskJournal` that opens the real one lazily and retries the open on each use until it succeeds."""

    def __init__(self, opener: Callable[[], TaskJournal], location: str) -> None:
        self._opener = opener
        self._location = safe_location(location)
        self._journal: TaskJournal | None = None
        self._lock = threading.Lock()
        self._closed = False

    def _open(self) -> TaskJournal:
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
            return self._journal

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

    def schema_version(self) -> int:
        """See `TaskJournal.schema_version`."""
        return self._open().schema_version()

    def record_intent(self, entry: JournalEntry) -> None:
        """See `TaskJournal.record_intent`."""
        self._open().record_intent(entry)

    def record_task(
        self,
        task: Task,
        external_task_id: str | None = None,
        endpoint: str = "image2video",
        kling_host: str | None = None,
        owner: str | None = None,
    ) -> None:
        """See `TaskJournal.record_task`."""
        self._open().record_task(task, external_task_id, endpoint, kling_host, owner)

    def record_status(self, external_task_id: str, status: str, message: str | None) -> None:
        """See `TaskJournal.record_status`."""
        self._open().record_status(external_task_id, status, message)

    def claim_relay(self, external_task_id: str, status: str, not_after: Sequence[str]) -> bool:
        """See `TaskJournal.claim_relay`."""
        return self._open().claim_relay(external_task_id, status, not_after)

    def release_relay(self, external_task_id: str, status: str, previous: str | None) -> None:
        """See `TaskJournal.release_relay`."""
        self._open().release_relay(external_task_id, status, previous)

    def get(self, any_id: str) -> JournalEntry | None:
        """See `TaskJournal.get`."""
        return self._open().get(any_id)

    def durations(
        self, model: str, mode: str | None, duration: int | None, *, limit: int = 20, kling_host: str | None = None
    ) -> list[float]:
        """See `TaskJournal.durations`."""
        return self._open().durations(model, mode, duration, limit=limit, kling_host=kling_host)

    def recent(
        self,
        *,
        limit: int = 20,
        status: str | None = None,
        kling_host: str | None = None,
        owner: str | None = None,
    ) -> list[JournalEntry]:
        """See `TaskJournal.recent`."""
        return self._open().recent(limit=limit, status=status, kling_host=kling_host, owner=owner)

    def record_handle(self, handle: TaskHandle) -> None:
        """See `TaskJournal.record_handle`."""
        self._open().record_handle(handle)

    def get_handle(self, handle_id: str) -> TaskHandle | None:
        """See `TaskJournal.get_handle`."""
        return self._open().get_handle(handle_id)

    def owner_handles(self, owner: str, *, limit: int, offset: int = 0) -> list[TaskHandle]:
        """See `TaskJournal.owner_handles`."""
        return self._open().owner_handles(owner, limit=limit, offset=offset)

    def cancel_handle(self, handle_id: str, at: float) -> None:
        """See `TaskJournal.cancel_handle`."""
        self._open().cancel_handle(handle_id, at)
