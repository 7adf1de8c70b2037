"""Finding the caller's task handle, and the state of the Kling task under it."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import anyio.to_thread
from mcp.server.context import ServerRequestContext
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS

from kling_mcp.server.context import app_of
from kling_mcp.server.tasks import wire

if TYPE_CHECKING:
    from kling_mcp.server.runtime import Runtime
    from kling_mcp.service.journal import TaskHandle, TaskJournal
    from kling_mcp.service.wait.tracking import Snapshot


def not_found(task_id: str) -> MCPError:
    """The spec's error for an unknown (or expired, or someone else's) task id."""
    return MCPError(code=INVALID_PARAMS, message=f"Failed to retrieve task: Task not found ({task_id})")


async def find(ctx: ServerRequestContext[Any, Any], task_id: str) -> tuple[Runtime, TaskHandle]:
    """The caller's live handle with this id, or the not-found error."""
    runtime = await app_of(ctx).runtime()
    handle = await anyio.to_thread.run_sync(runtime.journal.get_handle, task_id)
    # Someone else's task is reported exactly like a missing one: its existence is not ours to reveal.
    if handle is None or handle.owner != wire.owner_of_request(ctx.request) or wire.expired(handle, time.time()):
        raise not_found(task_id)
    return runtime, handle


async def reread(journal: TaskJournal, handle: TaskHandle) -> TaskHandle:
    """The handle as the journal has it now (another replica may have cancelled it)."""
    fresh: TaskHandle | None = await anyio.to_thread.run_sync(journal.get_handle, handle.handle_id)
    return fresh or handle


async def snapshot_of(runtime: Runtime, handle: TaskHandle, *, refresh: bool = True) -> Snapshot:
    """The state of the handle's Kling task; a cancelled handle never makes us ask Kling again."""
    snapshot = await runtime.tracker.snapshot(handle.external_task_id, refresh=refresh and handle.cancelled_at is None)
    if snapshot is None:
        raise not_found(handle.handle_id)
    return snapshot
