"""Native long-running calls: the MCP tasks protocol, in its 2025-11-25 and 2026-07-28 (SEP-2663) forms.

The MCP task *is* the Kling task. Creating one creates the Kling task (journaled before and after, as a normal call
does) and answers at once; nothing runs in the background. `tasks/get` reads the journal and, no more often than the
learned poll schedule allows, asks Kling; `tasks/result` (and a completed SEP-2663 `tasks/get`) runs the ordinary
`kling_get_video_task` tool until the video is done, so the result is exactly what a normal call returns. The handle
(owner, ttl, cancellation) is a journal row too, so a restarted server or another replica sharing the journal
answers for it. Everything hangs off the SDK's hooks — an `Extension` (new methods, the `tools/call` interceptor)
and one `Server.middleware` for what the 2025-11-25 wire needs and the SDK cannot express yet — so this module can
give way to the SDK's own tasks runtime when one ships.
"""

from __future__ import annotations

import contextvars
import dataclasses
import time
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.extension import Extension, MethodBinding
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.shared.exceptions import MCPError
from mcp_types import (
    INVALID_PARAMS,
    METHOD_NOT_FOUND,
    CallToolRequestParams,
    CallToolResult,
    PaginatedRequestParams,
    RequestParams,
    TextContent,
)
from mcp_types.methods import serialize_server_result
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import Field, ValidationError

from kling_mcp.api.errors import KlingError
from kling_mcp.server import task_wire as wire
from kling_mcp.server.context import AppContext
from kling_mcp.server.descriptions import GENERATE_TOOL, GET_TOOL
from kling_mcp.server.tool_errors import to_tool_error
from kling_mcp.service.errors import InvalidInputError, JournalUnavailableError
from kling_mcp.service.inputs import VideoRequest
from kling_mcp.service.journal import TaskHandle, TaskJournal
from kling_mcp.service.tracking import Snapshot

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

    from kling_mcp.server.runtime import Runtime

TASK_TOOLS = frozenset({GENERATE_TOOL, GET_TOOL})
LIST_PAGE_SIZE = 50
LEGACY = frozenset({wire.LEGACY_VERSION})
MODERN = frozenset(MODERN_PROTOCOL_VERSIONS)

# Carries a 2025-11-25 CreateTaskResult from the interceptor (inside the SDK's tools/call handler, whose result the
# SDK validates as a CallToolResult) out to the middleware, which answers with it instead.
_legacy_created: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("legacy_created", default=None)


class TaskIdParams(RequestParams):
    """Params of tasks/get, tasks/result, tasks/cancel."""

    task_id: str = Field(alias="taskId")


class UpdateParams(TaskIdParams):
    """Params of SEP-2663 tasks/update (we never ask for input, so responses are acknowledged and ignored)."""

    input_responses: dict[str, Any] = Field(default_factory=dict, alias="inputResponses")


def _not_found(task_id: str) -> MCPError:
    return MCPError(code=INVALID_PARAMS, message=f"Failed to retrieve task: Task not found ({task_id})")


def _app(ctx: ServerRequestContext[Any, Any]) -> AppContext:
    app = ctx.lifespan_context
    assert isinstance(app, AppContext)
    return app


def _is_legacy_task_call(params: CallToolRequestParams, ctx: ServerRequestContext[Any, Any]) -> bool:
    return ctx.protocol_version in LEGACY and params.task is not None


def _client_declared_extension(ctx: ServerRequestContext[Any, Any]) -> bool:
    capabilities = ctx.session.client_capabilities
    return bool(capabilities and capabilities.extensions and wire.EXTENSION_ID in capabilities.extensions)


class Tasks(Extension):
    """The tasks protocol for kling_generate_video_from_image and kling_get_video_task (with a wait)."""

    identifier = wire.EXTENSION_ID

    def __init__(self) -> None:
        self._server: MCPServer[Any] | None = None
        self._waits: dict[str, set[anyio.CancelScope]] = {}

    def attach(self, server: MCPServer[Any]) -> None:
        """Give the extension its server (to run the get tool) and install the 2025-11-25 middleware."""
        self._server = server
        server.middleware.append(self._legacy_surface)

    def methods(self) -> Sequence[MethodBinding]:
        """tasks/* in the form each protocol era defines."""
        both = LEGACY | MODERN
        return (
            MethodBinding("tasks/get", TaskIdParams, self._get, both),
            MethodBinding("tasks/cancel", TaskIdParams, self._cancel, both),
            MethodBinding("tasks/result", TaskIdParams, self._result, LEGACY),
            MethodBinding("tasks/list", PaginatedRequestParams, self._list, LEGACY),
            MethodBinding("tasks/update", UpdateParams, self._update, MODERN),
        )

    # --- creating a task -------------------------------------------------------------------------------------

    async def intercept_tool_call(
        self, params: CallToolRequestParams, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        """Answer with a task when the client asked (2025-11-25) or accepts one (SEP-2663); else change nothing."""
        legacy = _is_legacy_task_call(params, ctx)
        if legacy and params.name not in TASK_TOOLS:
            raise MCPError(code=METHOD_NOT_FOUND, message=f"Tool {params.name} does not support task execution")
        modern = ctx.protocol_version in MODERN and params.name in TASK_TOOLS and _client_declared_extension(ctx)
        if not legacy and not modern:
            return await call_next(ctx)
        runtime = await _app(ctx).runtime()
        arguments = dict(params.arguments or {})
        if params.name == GENERATE_TOOL:
            created = await self._start_generate(ctx, runtime, arguments)
        else:
            created = await self._start_wait(runtime, arguments, legacy)
        if created is None:  # nothing to wait for, or arguments the tool itself must judge: a normal call
            return await self._normal_call(ctx, call_next, legacy)
        if isinstance(created, CallToolResult):
            return await self._refuse(created, legacy)
        ttl = params.task.ttl if legacy and params.task is not None else None
        handle_id, external_task_id, download = created
        handle = TaskHandle(
            handle_id,
            external_task_id,
            owner=wire.owner_of_request(),
            tool=params.name,
            download=download,
            ttl_ms=wire.granted_ttl_ms(ttl),
            created_at=time.time(),
        )
        await anyio.to_thread.run_sync(runtime.journal.record_handle, handle)
        snapshot = await self._snapshot(runtime, handle, refresh=False)
        if not legacy:
            return {"resultType": "task", **wire.modern_task(handle, snapshot)}
        holder = _legacy_created.get()
        if holder is None:
            raise RuntimeError("the tasks middleware is not installed (call Tasks.attach)")
        holder["result"] = {"task": wire.legacy_task(handle, snapshot), "_meta": _immediate_response(snapshot)}
        return CallToolResult(content=[TextContent(type="text", text="task created")])

    async def _start_generate(
        self, ctx: ServerRequestContext[Any, Any], runtime: Runtime, arguments: dict[str, Any]
    ) -> tuple[str, str, bool | None] | CallToolResult | None:
        try:
            request = VideoRequest.model_validate(arguments)
        except ValidationError:
            return None  # the tool refuses it in its own words, before anything is sent
        try:
            begun = await runtime.service.start(request)
        except (InvalidInputError, KlingError, JournalUnavailableError) as exc:
            return CallToolResult(content=[TextContent(type="text", text=str(to_tool_error(exc, _app(ctx))))])
        # The handle id is our external_task_id: idempotent, and it finds the Kling task in every tool.
        return begun.external_task_id, begun.external_task_id, None

    async def _start_wait(
        self, runtime: Runtime, arguments: dict[str, Any], legacy: bool
    ) -> tuple[str, str, bool | None] | None:
        task_id, wait, download = arguments.get("task_id"), arguments.get("wait_seconds", 0), arguments.get("download")
        known = {"task_id", "wait_seconds", "download"}
        valid = isinstance(task_id, str) and task_id.strip() and isinstance(wait, int | float) and wait >= 0
        if not valid or set(arguments) - known or not (download is None or isinstance(download, bool)):
            return None
        if not legacy and not wait:
            return None  # a plain look-up answers at once
        snapshot = await runtime.tracker.snapshot(str(task_id).strip())
        if snapshot is None or (snapshot.done and not legacy):
            return None  # unknown to the journal, or finished: the tool answers (or explains) right away
        external = snapshot.entry.external_task_id
        return f"{external}~{uuid.uuid4().hex[:12]}", external, download

    async def _normal_call(
        self, ctx: ServerRequestContext[Any, Any], call_next: CallNext, legacy: bool
    ) -> HandlerResult:
        result = await call_next(ctx)
        if legacy and isinstance(result, CallToolResult) and result.is_error:
            return await self._refuse(result, legacy)
        return result

    async def _refuse(self, result: CallToolResult, legacy: bool) -> CallToolResult:
        """A call that created no task: the tool's error as is (SEP-2663), or as a JSON-RPC error (2025-11-25)."""
        result.is_error = True
        if legacy:  # a task-augmented 2025-11-25 request expects a CreateTaskResult or an error, nothing else
            text = " ".join(b.text for b in result.content if isinstance(b, TextContent))
            raise MCPError(code=INVALID_PARAMS, message=text)
        return result

    # --- reading, cancelling, listing --------------------------------------------------------------------------

    async def _lookup(self, ctx: ServerRequestContext[Any, Any], task_id: str) -> tuple[Runtime, TaskHandle]:
        runtime = await _app(ctx).runtime()
        handle = await anyio.to_thread.run_sync(runtime.journal.get_handle, task_id)
        # Someone else's task is reported exactly like a missing one: its existence is not ours to reveal.
        if handle is None or handle.owner != wire.owner_of_request() or wire.expired(handle, time.time()):
            raise _not_found(task_id)
        return runtime, handle

    @staticmethod
    async def _reread(journal: TaskJournal, handle: TaskHandle) -> TaskHandle:
        fresh: TaskHandle | None = await anyio.to_thread.run_sync(journal.get_handle, handle.handle_id)
        return fresh or handle

    async def _snapshot(self, runtime: Runtime, handle: TaskHandle, *, refresh: bool = True) -> Snapshot:
        # A cancelled handle is no longer waited on: it never makes us ask Kling again.
        snapshot = await runtime.tracker.snapshot(
            handle.external_task_id, refresh=refresh and handle.cancelled_at is None
        )
        if snapshot is None:
            raise _not_found(handle.handle_id)
        return snapshot

    async def _get(self, ctx: ServerRequestContext[Any, Any], params: TaskIdParams) -> dict[str, Any]:
        runtime, handle = await self._lookup(ctx, params.task_id)
        snapshot = await self._snapshot(runtime, handle)
        if ctx.protocol_version in LEGACY:
            return wire.legacy_task(handle, snapshot)
        result = None
        if handle.cancelled_at is None and snapshot.done:
            result = self._wire_result(ctx, await self._run_get_tool(ctx, handle, wait=0))
        return wire.modern_task(handle, snapshot, result)

    async def _result(self, ctx: ServerRequestContext[Any, Any], params: TaskIdParams) -> dict[str, Any]:
        """2025-11-25 tasks/result: block until the task ends, then answer what the tool call would have."""
        _, handle = await self._lookup(ctx, params.task_id)
        result = await self._wait_for_result(ctx, handle)
        return wire.with_related_task(self._wire_result(ctx, result), handle.handle_id)

    async def _wait_for_result(self, ctx: ServerRequestContext[Any, Any], handle: TaskHandle) -> CallToolResult:
        app = _app(ctx)
        scopes = self._waits.setdefault(handle.handle_id, set())
        with anyio.CancelScope() as scope:  # tasks/cancel ends it
            scopes.add(scope)
            try:
                while handle.cancelled_at is None:
                    started = time.monotonic()
                    # No cap on the whole wait (the client is not blocked on a tool call); each round is one call.
                    result = await self._run_get_tool(ctx, handle, wait=app.options.max_wait_seconds)
                    done = (result.structured_content or {}).get("result", {}).get("done")
                    if result.is_error or done:
                        return result
                    # A round that ended early (the server is wrapping up) must not spin.
                    await anyio.sleep(max(0.0, app.options.schedule.min_interval - (time.monotonic() - started)))
                    journal = (await app.runtime()).journal
                    handle = await self._reread(journal, handle)
            finally:
                scopes.discard(scope)
        snapshot = await self._snapshot(await app.runtime(), handle, refresh=False)
        text = wire.status_message(dataclasses.replace(handle, cancelled_at=time.time()), snapshot)
        return CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)

    async def _cancel(self, ctx: ServerRequestContext[Any, Any], params: TaskIdParams) -> dict[str, Any]:
        runtime, handle = await self._lookup(ctx, params.task_id)
        snapshot = await self._snapshot(runtime, handle, refresh=False)
        status = wire.status_of(handle, snapshot, tool_error_completes=False)
        legacy = ctx.protocol_version in LEGACY
        if status != "working":
            if legacy:
                raise MCPError(
                    code=INVALID_PARAMS, message=f"Cannot cancel task: already in terminal status '{status}'"
                )
            return {}  # SEP-2663: an acknowledgement; a finished task stays as it ended
        await anyio.to_thread.run_sync(runtime.journal.cancel_handle, handle.handle_id, time.time())
        for scope in self._waits.get(handle.handle_id, ()):
            scope.cancel()
        handle = await self._reread(runtime.journal, handle)
        return wire.legacy_task(handle, snapshot) if legacy else {}

    async def _update(self, ctx: ServerRequestContext[Any, Any], params: UpdateParams) -> dict[str, Any]:
        await self._lookup(ctx, params.task_id)
        return {}

    async def _list(self, ctx: ServerRequestContext[Any, Any], params: PaginatedRequestParams) -> dict[str, Any]:
        runtime = await _app(ctx).runtime()
        cursor = params.cursor or "0"
        if not cursor.isdigit():
            raise MCPError(code=INVALID_PARAMS, message="Invalid cursor")
        offset = int(cursor)
        owner, now = wire.owner_of_request(), time.time()
        handles = await anyio.to_thread.run_sync(
            lambda: runtime.journal.owner_handles(owner, limit=LIST_PAGE_SIZE, offset=offset)
        )
        tasks = []
        for handle in handles:
            snapshot = await runtime.tracker.snapshot(handle.external_task_id, refresh=False)
            if snapshot is not None and not wire.expired(handle, now):
                tasks.append(wire.legacy_task(handle, snapshot))
        page: dict[str, Any] = {"tasks": tasks}
        if len(handles) == LIST_PAGE_SIZE:
            page["nextCursor"] = str(offset + LIST_PAGE_SIZE)
        return page

    # --- running the ordinary tool -------------------------------------------------------------------------------

    async def _run_get_tool(
        self, ctx: ServerRequestContext[Any, Any], handle: TaskHandle, wait: float
    ) -> CallToolResult:
        """kling_get_video_task for the handle's task, answered exactly as a client calling it would be."""
        assert self._server is not None, "Tasks.attach(server) was not called"
        arguments: dict[str, Any] = {"task_id": handle.external_task_id, "wait_seconds": wait}
        if handle.download is not None:
            arguments["download"] = handle.download
        try:
            result = await self._server.call_tool(
                GET_TOOL, arguments, Context(request_context=ctx, mcp_server=self._server)
            )
        except ToolError as exc:  # how the SDK reports a tool's error to a client
            return CallToolResult(content=[TextContent(type="text", text=str(exc))], is_error=True)
        assert isinstance(result, CallToolResult)
        return result

    @staticmethod
    def _wire_result(ctx: ServerRequestContext[Any, Any], result: CallToolResult) -> dict[str, Any]:
        dumped = result.model_dump(by_alias=True, mode="json", exclude_none=True)
        return serialize_server_result("tools/call", ctx.protocol_version, dumped)

    # --- the 2025-11-25 surface the SDK does not produce itself -------------------------------------------------

    async def _legacy_surface(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        """Declare `capabilities.tasks` and `execution.taskSupport`, and answer task-augmented calls with a task."""
        if ctx.method == "tools/call" and ctx.protocol_version in LEGACY and (ctx.params or {}).get("task") is not None:
            holder: dict[str, Any] = {}
            token = _legacy_created.set(holder)
            try:
                result = await call_next(ctx)
            finally:
                _legacy_created.reset(token)
            return holder.get("result", result)
        result = await call_next(ctx)
        if not isinstance(result, dict):
            return result
        if ctx.method == "initialize" and result.get("protocolVersion") in LEGACY:
            capabilities = dict(result.get("capabilities") or {})
            capabilities["tasks"] = {"list": {}, "cancel": {}, "requests": {"tools": {"call": {}}}}
            result = {**result, "capabilities": capabilities}
        elif ctx.method == "tools/list" and ctx.protocol_version in LEGACY:
            tools = [
                {**tool, "execution": {"taskSupport": "optional"}} if tool.get("name") in TASK_TOOLS else tool
                for tool in result.get("tools", [])
            ]
            result = {**result, "tools": tools}
        return result


def _immediate_response(snapshot: Snapshot) -> dict[str, Any]:
    """What a host may hand the model at once while the task runs (the spec's provisional `_meta` key)."""
    ref = snapshot.entry.task_id or snapshot.entry.external_task_id
    text = (
        f"Kling task {ref} was created (billed) and is running; the video usually takes 30 s to a few minutes. "
        "Its result will arrive when the task completes: do not generate the same video again."
    )
    return {"io.modelcontextprotocol/model-immediate-response": text}
