"""A task's result: the ordinary `kling_get_video_task` tool, run for the task as a client calling it would be."""

from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING, Any

import anyio
from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult, TextContent
from mcp_types.methods import serialize_server_result

from kling_mcp.server.context import app_of
from kling_mcp.server.descriptions import GET_TOOL
from kling_mcp.server.tasks import wire
from kling_mcp.server.tasks.lookup import reread, snapshot_of

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

    from kling_mcp.service.journal import TaskHandle


class ResultRunner:
    """Runs the get tool for tasks, and ends the waits of a task that gets cancelled."""

    def __init__(self) -> None:
        self.server: MCPServer[Any] | None = None
        self._waits: dict[str, set[anyio.CancelScope]] = {}

    async def run(self, ctx: ServerRequestContext[Any, Any], handle: TaskHandle, wait: float) -> CallToolResult:
        """kling_get_video_task for the handle's task, waiting up to `wait` (within the server's cap)."""
        assert self.server is not None, "Tasks.attach(server) was not called"
        arguments: dict[str, Any] = {"task_id": handle.external_task_id, "wait_seconds": wait}
        if handle.download is not None:
            arguments["download"] = handle.download
        context = Context(request_context=ctx, mcp_server=self.server)
        try:
            result = await self.server.call_tool(GET_TOOL, arguments, context)
        except ToolError as exc:  # how the SDK reports a tool's error to a client
            return CallToolResult(content=[TextContent(type="text", text=str(exc))], is_error=True)
        assert isinstance(result, CallToolResult)
        return result

    async def wait(self, ctx: ServerRequestContext[Any, Any], handle: TaskHandle) -> CallToolResult:
        """The result once the task has ended, with no cap on the wait; a cancellation ends it at once."""
        app = app_of(ctx)
        scopes = self._waits.setdefault(handle.handle_id, set())
        with anyio.CancelScope() as scope:
            scopes.add(scope)
            try:
                while handle.cancelled_at is None:
                    started = time.monotonic()
                    # The client is not blocked on a tool call: rounds of the server's cap, as many as it takes.
                    result = await self.run(ctx, handle, wait=app.options.max_wait_seconds)
                    if result.is_error or (result.structured_content or {}).get("result", {}).get("done"):
                        return result
                    # A round that ended early (the server is wrapping up) must not spin.
                    await anyio.sleep(max(0.0, app.options.schedule.min_interval - (time.monotonic() - started)))
                    handle = await reread((await app.runtime()).journal, handle)
            finally:
                scopes.discard(scope)
        snapshot = await snapshot_of(await app.runtime(), handle, refresh=False)
        text = wire.status_message(dataclasses.replace(handle, cancelled_at=time.time()), snapshot)
        return CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)

    def cancel_waits(self, handle_id: str) -> None:
        """End every wait in this process for this handle's result."""
        for scope in self._waits.get(handle_id, ()):
            scope.cancel()


def wire_result(ctx: ServerRequestContext[Any, Any], result: CallToolResult) -> dict[str, Any]:
    """The tool result exactly as the SDK puts it on this request's wire version."""
    dumped = result.model_dump(by_alias=True, mode="json", exclude_none=True)
    return serialize_server_result("tools/call", ctx.protocol_version, dumped)
