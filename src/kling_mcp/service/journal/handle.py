"""What the journal holds about an MCP task handle: the tasks protocol's view of one journaled Kling task."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TaskHandle:
    """An MCP task on one Kling task: who may see it, how long it is kept, and whether it was cancelled."""

    handle_id: str
    external_task_id: str
    owner: str
    tool: str
    download: bool | None = None
    ttl_ms: int | None = None
    created_at: float = 0.0
    cancelled_at: float | None = None


# The columns of the `task_handles` table, in the order `handle_values` gives them.
HANDLE_COLUMNS = (
    "handle_id",
    "external_task_id",
    "owner",
    "tool",
    "download",
    "ttl_ms",
    "created_at",
    "cancelled_at",
)


def handle_values(handle: TaskHandle) -> tuple[object, ...]:
    """A handle as one row of `task_handles` (download as 0/1/NULL: both databases store it as an integer)."""
    values: dict[str, object] = {name: getattr(handle, name) for name in HANDLE_COLUMNS}
    values["download"] = None if handle.download is None else int(handle.download)
    return tuple(values[name] for name in HANDLE_COLUMNS)


def handle_from_row(row: Mapping[str, Any]) -> TaskHandle:
    """A row of `task_handles` as a handle."""
    values = dict(row)
    download = values.pop("download")
    return TaskHandle(**values, download=None if download is None else bool(download))
