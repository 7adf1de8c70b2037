"""The 2025-11-25 surface the SDK 2.3 cannot express: `capabilities.tasks`, `execution.taskSupport`, and the
`CreateTaskResult` answer to a task-augmented `tools/call` (the SDK validates that result as a `CallToolResult`).

One `Server.middleware`: the interceptor (inside the SDK's `tools/call` handler) hands the CreateTaskResult to
`offer`, and the middleware, around the handler, answers with it instead of the placeholder the handler returned.
"""

from __future__ import annotations

import contextvars
from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext

from kling_mcp.server.tasks.wire import LEGACY_VERSION

TASK_SUPPORT: dict[str, Any] = {"taskSupport": "optional"}
CAPABILITY: dict[str, Any] = {"list": {}, "cancel": {}, "requests": {"tools": {"call": {}}}}

_created: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("legacy_created", default=None)


def is_task_call(ctx: ServerRequestContext[Any, Any]) -> bool:
    """A 2025-11-25 `tools/call` that asks to run as a task (its params carry `task`, even `{}`)."""
    return (
        ctx.method == "tools/call"
        and ctx.protocol_version == LEGACY_VERSION
        and ((ctx.params or {}).get("task") is not None)
    )


def offer(create_task_result: dict[str, Any]) -> None:
    """Answer the current task-augmented `tools/call` with this CreateTaskResult (see the module docstring)."""
    holder = _created.get()
    if holder is None:
        raise RuntimeError("the 2025-11-25 tasks middleware is not installed (call Tasks.attach)")
    holder["result"] = create_task_result


def surface(task_tools: frozenset[str]) -> Any:
    """The middleware, declaring task support for `task_tools`."""

    async def middleware(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if is_task_call(ctx):
            holder: dict[str, Any] = {}
            token = _created.set(holder)
            try:
                result = await call_next(ctx)
            finally:
                _created.reset(token)
            return holder.get("result", result)
        result = await call_next(ctx)
        if not isinstance(result, dict):
            return result
        if ctx.method == "initialize" and result.get("protocolVersion") == LEGACY_VERSION:
            return {**result, "capabilities": {**(result.get("capabilities") or {}), "tasks": CAPABILITY}}
        if ctx.method == "tools/list" and ctx.protocol_version == LEGACY_VERSION:
            tools = [
                {**tool, "execution": TASK_SUPPORT} if tool.get("name") in task_tools else tool
                for tool in result.get("tools", [])
            ]
            return {**result, "tools": tools}
        return result

    return middleware
