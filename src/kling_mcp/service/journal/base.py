"""The journal interface every backend implements: the service and the tools depend on this, not on a database."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from kling_mcp.api.models import Task
from kling_mcp.service.journal.element_rows import ElementEntry
from kling_mcp.service.journal.entry import JournalEntry
from kling_mcp.service.journal.handle import TaskHandle
from kling_mcp.service.journal.ledger import SpendCheck, Spending

# How long a write waits for another writer's lock before it fails as "locked" (seconds), whatever the backend.
DEFAULT_WRITE_WAIT = 30.0


class JournalConnectionError(ConnectionError):
    """A database journal could not be reached or refused a statement; the message never holds a password."""


class TaskJournal(Protocol):
    """Remembers every paid task, from intent to finished video.

    Every method is one short, blocking transaction; async callers run them in a worker thread.
    """

    @property
    def where(self) -> str:
        """Where the journal lives, safe to log and show (a file path, or a database URL without its password)."""
        ...

    def close(self) -> None:
        """Release the database connection(s)."""
        ...

    def schema_version(self) -> int:
        """The number of the last schema migration this journal has applied."""
        ...

    def record_intent(self, entry: JournalEntry, spend: SpendCheck | None = None) -> None:
        """Write a call's intent before its create request is sent; with `spend`, atomically refuse it
        (`SpendLimitReached`, nothing written) when its owner's spend plus the estimate would pass the limit."""
        ...

    def spending(self, owner: str, default_limit: float | None, *, window: float) -> Spending:
        """`owner`'s spend within the last `window` seconds, and the limit that applies to it."""
        ...

    def set_spend_limit(self, owner: str, units: float | None) -> None:
        """Set `owner`'s own spend limit, or with None remove it (the default applies again)."""
        ...

    def spend_limits(self) -> dict[str, float]:
        """Every owner's own spend limit (the operator's overrides)."""
        ...

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
        ...

    def record_status(self, external_task_id: str, status: str, message: str | None) -> None:
        """Mark a call whose create did not yield a task (failed, or outcome unknown)."""
        ...

    def claim_relay(self, external_task_id: str, status: str, not_after: Sequence[str]) -> bool:
        """Mark `status` relayed unless the last relayed status is one of `not_after`; True if this call marked it.

        Atomic, so of several replicas claiming the same status exactly one relays it.
        """
        ...

    def release_relay(self, external_task_id: str, status: str, previous: str | None) -> None:
        """Give back a claim whose relay never got through: the last relayed status is `previous` again."""
        ...

    def get(self, any_id: str) -> JournalEntry | None:
        """The entry with this Kling task id or external task id."""
        ...

    def durations(
        self, model: str, mode: str | None, duration: int | None, *, limit: int = 20, kling_host: str | None = None
    ) -> list[float]:
        """Seconds from creation to success of the latest finished tasks of one profile (newest first), optionally
        only of one Kling API (plus entries older than the record of hosts)."""
        ...

    def charges(self, profile: str, *, limit: int = 20, kling_host: str | None = None) -> list[float]:
        """Units Kling charged the latest succeeded tasks of one billing profile (newest first), optionally only
        of one Kling API (as `durations`)."""
        ...

    def charged_seconds(
        self, profile: str, *, limit: int = 20, kling_host: str | None = None
    ) -> list[tuple[float, float]]:
        """(units charged, seconds of video made) of the latest succeeded tasks of one billing profile (newest
        first; only tasks whose videos' lengths Kling reported), optionally only of one Kling API (as `durations`)."""
        ...

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
        ...

    def record_handle(self, handle: TaskHandle) -> None:
        """Remember an MCP task handle (recording the same id again changes nothing)."""
        ...

    def get_handle(self, handle_id: str) -> TaskHandle | None:
        """The MCP task handle with this id."""
        ...

    def owner_handles(self, owner: str, *, limit: int, offset: int = 0) -> list[TaskHandle]:
        """One owner's MCP task handles, newest first."""
        ...

    def cancel_handle(self, handle_id: str, at: float) -> None:
        """Mark a handle cancelled (a second cancellation keeps the first one's time)."""
        ...

    def record_element_intent(self, entry: ElementEntry) -> None:
        """Write an element creation's intent before its create request is sent."""
        ...

    def record_element(
        self,
        external_task_id: str,
        status: str,
        *,
        task_id: str | None = None,
        element_id: str | None = None,
        message: str | None = None,
    ) -> None:
        """Store what Kling said of an element's creation (ids already known are kept)."""
        ...

    def mark_element_deleted(self, element_id: str) -> None:
        """Note that the element was deleted at Kling."""
        ...

    def element(self, any_id: str) -> ElementEntry | None:
        """The element with this element id, or whose creation has this task id or external task id."""
        ...

    def elements_named(self, any_ids: Sequence[str]) -> list[ElementEntry]:
        """Every element whose element id, or whose creation's task id or external task id, is one of these."""
        ...

    def elements(
        self,
        *,
        limit: int = 50,
        owner: str | None = None,
        kling_host: str | None = None,
        deleted: bool = False,
        status: str | None = None,
    ) -> list[ElementEntry]:
        """The newest element creations first, optionally of one owner, one Kling API and one status, deleted ones if
        asked."""
        ...
