"""The tasks protocol as an SDK `Extension`: task creation in the `tools/call` interceptor, and the tasks/* methods."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any, NoReturn

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
    InputRequiredResult,
    PaginatedRequestParams,
    RequestParams,
    TextContent,
)
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import Field

from kling_mcp.server.access import GENERATE_SCOPE, Caller, caller_for, token_of
from kling_mcp.server.call_gate import CallGate, OwnerBusyError
from kling_mcp.server.context import app_of
from kling_mcp.server.model_tool import parsed_arguments
from kling_mcp.server.tasks import legacy, wire
from kling_mcp.server.tasks.lookup import find, reread, snapshot_of
from kling_mcp.server.tasks.result_runner import ResultRunner, wire_result
from kling_mcp.server.tools import BY_NAME, CREATING_TOOLS, TASK_TOOLS

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

    from kling_mcp.server.arguments import GetTaskArguments
    from kling_mcp.server.runtime import Runtime
    from kling_mcp.service.prepare.bodies import GenerateRequest

LIST_PAGE_SIZE = 50
LEGACY = frozenset({wire.LEGACY_VERSION})
MODERN = frozenset(MODERN_PROTOCOL_VERSIONS)

Created = tuple[str, str, bool | None]
"""A new task: its handle id, the external_task_id of its Kling task, and the download choice for its result."""


class TaskIdParams(RequestParams):
    """Params of tasks/get, tasks/result, tasks/cancel."""

    task_id: str = Field(alias="taskId")


class UpdateParams(TaskIdParams):
    """Params of SEP-2663 tasks/update (we never ask for input, so responses are acknowledged and ignored)."""

    input_responses: dict[str, Any] = Field(default_factory=dict, alias="inputResponses")


def _client_declared_extension(ctx: ServerRequestContext[Any, Any]) -> bool:
    capabilities = ctx.session.client_capabilities
    return bool(capabilities and capabilities.extensions and wire.EXTENSION_ID in capabilities.extensions)


# JSON-RPC error of a `tasks/result` refused because its owner has no call slot free (implementation-defined range).
BUSY = -32001


class Tasks(Extension):
    """The tasks protocol for the tools declared with task support (`server/tools.py`): those that create a paid
    task, and the get tool with a wait."""

    identifier = wire.EXTENSION_ID

    def __init__(self, gate: CallGate | None = None) -> None:
        self._results = ResultRunner()
        self._gate = gate  # HTTP: a `tasks/result` wait holds one of its owner's call slots, as a tool call does

    def attach(self, server: MCPServer[Any]) -> None:
        """Give the extension its server (to run the get tool) and install the 2025-11-25 middleware."""
        self._results.server = server
        server.middleware.append(legacy.surface(TASK_TOOLS))

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

    # --- creating a task ---------------------------------------------------------------------------------------

    async def intercept_tool_call(
        self, params: CallToolRequestParams, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        """Answer with a task when the client asked (2025-11-25) or accepts one (SEP-2663); else change nothing."""
        is_legacy = legacy.is_task_call(ctx)
        if is_legacy and params.name not in TASK_TOOLS:
            raise MCPError(code=METHOD_NOT_FOUND, message=f"Tool {params.name} does not support task execution")
        modern = ctx.protocol_version in MODERN and params.name in TASK_TOOLS and _client_declared_extension(ctx)
        if not is_legacy and not modern:
            return await call_next(ctx)
        runtime = await app_of(ctx).runtime()
        try:  # with the tool's own model: arguments it refuses get its own words, in a normal call, before anything
            arguments = parsed_arguments(BY_NAME[params.name].binding(), dict(params.arguments or {}), params.name)
        except ToolError:
            arguments = None
        caller = caller_for(token_of(ctx.request))
        if arguments is None:
            created: Created | CallToolResult | InputRequiredResult | None = None
        elif params.name in CREATING_TOOLS:
            created = await self._start_generate(ctx, params, arguments, caller)
        else:
            created = await self._start_wait(runtime, arguments, is_legacy, caller)
        if created is None:  # nothing to wait for, or arguments the tool itself must judge: a normal call
            result = await call_next(ctx)
            if is_legacy and isinstance(result, CallToolResult) and result.is_error:
                _refuse(result)
            return result
        if isinstance(created, InputRequiredResult):
            return created  # the spend's question (2026-07-28): the client calls again with the answer
        if isinstance(created, CallToolResult):
            return _refuse(created) if is_legacy else created
        handle_id, external_task_id, download = created
        from kling_mcp.service.journal import TaskHandle  # the journal loads with the first call, not at start

        ttl = params.task.ttl if is_legacy and params.task is not None else None
        handle = TaskHandle(
            handle_id,
            external_task_id,
            owner=wire.owner_of_request(ctx.request),
            tool=params.name,
            download=download,
            ttl_ms=wire.granted_ttl_ms(ttl),
            created_at=time.time(),
        )
        await anyio.to_thread.run_sync(runtime.journal.record_handle, handle)
        snapshot = await snapshot_of(runtime, handle, refresh=False)
        if not is_legacy:
            return {"resultType": "task", **wire.modern_task(handle, snapshot)}
        legacy.offer({"task": wire.legacy_task(handle, snapshot), "_meta": wire.immediate_response(snapshot)})
        return CallToolResult(content=[TextContent(type="text", text="task created")])  # replaced by the offer

    async def _start_generate(
        self,
        ctx: ServerRequestContext[Any, Any],
        params: CallToolRequestParams,
        request: GenerateRequest,
        caller: Caller,
    ) -> Created | CallToolResult | InputRequiredResult | None:
        from kling_mcp.server.handlers import start_task  # loaded with the first call, as the tools' handlers are

        if not caller.holds(GENERATE_SCOPE):
            return None  # the tool refuses it, saying which scope is missing
        # The tool's own Context, so the spend is approved as in a plain call (server/consent.py).
        context = Context(request_context=ctx, mcp_server=self._results.server, input_params=params)
        try:  # the generate tool's own start: the same checks, approval and errors, the task created once
            started = await start_task(context, app_of(ctx), caller, request)
        except ToolError as exc:
            return CallToolResult(content=[TextContent(type="text", text=str(exc))], is_error=True)
        if not isinstance(started, str):
            return started  # not created: the user's refusal, or the question
        external_task_id = started
        # The handle id is our external_task_id: idempotent, and it finds the Kling task in every tool.
        return external_task_id, external_task_id, None

    async def _start_wait(
        self, runtime: Runtime, arguments: GetTaskArguments, is_legacy: bool, caller: Caller
    ) -> Created | None:
        task_id, wait, download = arguments.task_id, arguments.wait_seconds, arguments.download
        if download and not caller.holds(GENERATE_SCOPE):
            return None  # the tool refuses it, saying which scope saving needs
        if not is_legacy and not wait:
            return None  # a plain look-up answers at once
        # The owner first, from the journal alone (as the tool does): someone else's id never costs a Kling query.
        known = await runtime.tracker.snapshot(task_id, refresh=False)
        if known is None or not caller.viewer.may_see(known.entry):
            return None  # unknown (or someone else's): the tool answers "not found" right away
        snapshot = await runtime.tracker.snapshot(task_id)
        if snapshot is None or (snapshot.done and not is_legacy):
            return None  # finished: the tool answers right away
        external = snapshot.entry.external_task_id
        return f"{external}~{uuid.uuid4().hex[:12]}", external, download

    # --- reading, cancelling, listing ----------------------------------------------------------------------------

    async def _get(self, ctx: ServerRequestContext[Any, Any], params: TaskIdParams) -> dict[str, Any]:
        runtime, handle = await find(ctx, params.task_id)
        snapshot = await snapshot_of(runtime, handle)
        if ctx.protocol_version in LEGACY:
            return wire.legacy_task(handle, snapshot)
        result = None
        if handle.cancelled_at is None and snapshot.done:
            result = wire_result(ctx, await self._results.run(ctx, handle, wait=0))
        return wire.modern_task(handle, snapshot, result)

    async def _result(self, ctx: ServerRequestContext[Any, Any], params: TaskIdParams) -> dict[str, Any]:
        """2025-11-25 tasks/result: block until the task ends, then answer what the tool call would have."""
        _, handle = await find(ctx, params.task_id)
        owner = caller_for(token_of(ctx.request)).viewer.owner
        slot: AbstractContextManager[None] = nullcontext() if self._gate is None else self._gate.owner_slot(owner)
        try:
            with slot:
                result = await self._results.wait(ctx, handle)
        except OwnerBusyError as exc:  # nothing waited for: the task runs on, and tasks/get still answers
            raise MCPError(code=BUSY, message=str(exc)) from None
        return wire.with_related_task(wire_result(ctx, result), handle.handle_id)

    async def _cancel(self, ctx: ServerRequestContext[Any, Any], params: TaskIdParams) -> dict[str, Any]:
        runtime, handle = await find(ctx, params.task_id)
        snapshot = await snapshot_of(runtime, handle, refresh=False)
        status = wire.status_of(handle, snapshot, tool_error_completes=False)
        is_legacy = ctx.protocol_version in LEGACY
        if status != "working":
            if is_legacy:
                message = f"Cannot cancel task: already in terminal status '{status}'"
                raise MCPError(code=INVALID_PARAMS, message=message)
            return {}  # SEP-2663: an acknowledgement; a finished task stays as it ended
        await anyio.to_thread.run_sync(runtime.journal.cancel_handle, handle.handle_id, time.time())
        self._results.cancel_waits(handle.handle_id)
        handle = await reread(runtime.journal, handle)
        return wire.legacy_task(handle, snapshot) if is_legacy else {}

    async def _update(self, ctx: ServerRequestContext[Any, Any], params: UpdateParams) -> dict[str, Any]:
        await find(ctx, params.task_id)
        return {}

    async def _list(self, ctx: ServerRequestContext[Any, Any], params: PaginatedRequestParams) -> dict[str, Any]:
        runtime = await app_of(ctx).runtime()
        cursor = params.cursor or "0"
        if not cursor.isdigit():
            raise MCPError(code=INVALID_PARAMS, message="Invalid cursor")
        offset, owner, now = int(cursor), wire.owner_of_request(ctx.request), time.time()
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


def _refuse(result: CallToolResult) -> NoReturn:
    """A 2025-11-25 task request that created no task: a JSON-RPC error, which is all such a client expects."""
    text = " ".join(block.text for block in result.content if isinstance(block, TextContent))
    raise MCPError(code=INVALID_PARAMS, message=text)
