"""The journal's custom elements: who made which element, written before its create and after each answer.

Kept as tasks are (service/journal/sql.py): an intent row before the create request, the task id and status after,
the element id once Kling made it, and when it was deleted. Every view filters by owner (`Viewer`).
"""

from __future__ import annotations

import time
from abc import abstractmethod
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kling_mcp.redaction import for_storage

if TYPE_CHECKING:
    from kling_mcp.service.journal.sql import Cursor


@dataclass
class ElementEntry:
    """One element creation as the journal knows it."""

    external_task_id: str
    element_name: str
    owner: str | None = None
    kling_host: str | None = None
    task_id: str | None = None
    element_id: str | None = None
    status: str = "creating"
    status_message: str | None = None
    created_at: float = 0.0
    updated_at: float = 0.0
    deleted_at: float | None = None


ELEMENT_COLUMNS = (
    "external_task_id",
    "task_id",
    "element_id",
    "element_name",
    "owner",
    "kling_host",
    "status",
    "status_message",
    "created_at",
    "updated_at",
    "deleted_at",
)
_LIST = ", ".join(ELEMENT_COLUMNS)


def _text(value: str | None) -> str | None:
    return for_storage(value) if value is not None else None


class ElementQueries:
    """The element table's queries, mixed into `SqlJournal` (which supplies cursors and the dialect)."""

    @abstractmethod
    def _transaction(self) -> AbstractContextManager[Cursor]: ...

    @abstractmethod
    def _execute(self, cursor: Cursor, sql: str, params: Sequence[object] = ()) -> Cursor: ...

    @abstractmethod
    def _select(self, sql: str, params: Sequence[object] = ()) -> list[dict[str, Any]]: ...

    def record_element_intent(self, entry: ElementEntry) -> None:
        """Write an element creation's intent before its create request is sent."""
        entry.created_at = entry.updated_at = time.time()
        values = [getattr(entry, name) for name in ELEMENT_COLUMNS]
        values[ELEMENT_COLUMNS.index("element_name")] = _text(entry.element_name)
        with self._transaction() as cursor:
            placeholders = ", ".join("?" * len(ELEMENT_COLUMNS))
            self._execute(cursor, f"INSERT INTO elements ({_LIST}) VALUES ({placeholders})", values)

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
        with self._transaction() as cursor:
            self._execute(
                cursor,
                "UPDATE elements SET task_id=COALESCE(?, task_id), element_id=COALESCE(?, element_id), status=?, "
                "status_message=?, updated_at=? WHERE external_task_id=?",
                (task_id, element_id, status, _text(message), time.time(), external_task_id),
            )

    def mark_element_deleted(self, element_id: str) -> None:
        """Note that the element was deleted at Kling."""
        with self._transaction() as cursor:
            self._execute(
                cursor,
                "UPDATE elements SET deleted_at=?, updated_at=? WHERE element_id=? AND deleted_at IS NULL",
                (time.time(), time.time(), element_id),
            )

    def element(self, any_id: str) -> ElementEntry | None:
        """The element with this element id, or whose creation has this task id or external task id."""
        rows = self._select(
            f"SELECT {_LIST} FROM elements WHERE element_id=? OR task_id=? OR external_task_id=? LIMIT 1",
            (any_id, any_id, any_id),
        )
        return ElementEntry(**rows[0]) if rows else None

    def elements_named(self, any_ids: Sequence[str]) -> list[ElementEntry]:
        """Every element whose element id, or whose creation's task id or external task id, is one of these, in one
        query (a generate call checks its whole element_list at once)."""
        if not any_ids:
            return []
        marks = ", ".join("?" * len(any_ids))
        rows = self._select(
            f"SELECT {_LIST} FROM elements WHERE element_id IN ({marks}) OR task_id IN ({marks}) "
            f"OR external_task_id IN ({marks})",
            (*any_ids, *any_ids, *any_ids),
        )
        return [ElementEntry(**row) for row in rows]

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
        query, params = f"SELECT {_LIST} FROM elements WHERE 1=1", list[object]()
        for column, value in (("owner", owner), ("kling_host", kling_host), ("status", status)):
            if value is not None:
                query += f" AND {column}=?"
                params.append(value)
        if not deleted:
            query += " AND deleted_at IS NULL"
        rows = self._select(query + " ORDER BY created_at DESC LIMIT ?", (*params, limit))
        return [ElementEntry(**row) for row in rows]
