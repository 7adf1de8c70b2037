"""What each tool does when called: the handlers its declaration names (`server/tools.py`).

Loaded on a server's first tool call, not at start: listing the tools needs only their published schemas
(`server/schema_cache.py`), while this module pulls in the service, the journal and every model.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

import anyio.to_thread
from mcp.server.apps import client_supports_apps
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult, InputRequiredResult

from kling_mcp.api.errors import KlingError
from kling_mcp.server.access import GENERATE_SCOPE, READ_SCOPE, Caller, caller_of
from kling_mcp.server.arguments import (
    CreditsArguments,
    DeleteElementArguments,
    GetElementArguments,
    GetTaskArguments,
    ListElementsArguments,
    ListTasksArguments,
    ModelsArguments,
    WatchArguments,
)
from kling_mcp.server.consent import approve
from kling_mcp.server.context import app_of
from kling_mcp.server.descriptions import GET_TOOL, MODELS_TOOL, WATCH_TOOL
from kling_mcp.server.replies import (
    next_step_for,
    placed_for,
    progress_of,
    saved,
    task_list_result,
    video_result,
    with_next_step,
)
from kling_mcp.server.tool_errors import invalid_input_text, to_tool_error
from kling_mcp.server.tools import creator_of, tool_taking
from kling_mcp.service.create.creating import Approval
from kling_mcp.service.custom_elements import ElementListOutput, ElementOutput
from kling_mcp.service.describe.catalog import ModelCatalog, catalog
from kling_mcp.service.describe.follow import FollowState, follow
from kling_mcp.service.describe.task_results import VideoTaskResult
from kling_mcp.service.failures import InvalidInputError, JournalUnavailableError, TaskCallError
from kling_mcp.service.journal.ledger import WINDOW_SECONDS
from kling_mcp.service.limits.credits import CreditsOutput, OwnerSpend
from kling_mcp.service.limits.spend import SpendLimitError
from kling_mcp.service.prepare.bodies import GenerateRequest
from kling_mcp.service.prepare.element_request import ElementRequest
from kling_mcp.service.video import Begun, Outcome

if TYPE_CHECKING:
    from kling_mcp.server.context import AppContext

CREATE_FAILURES = (InvalidInputError, KlingError, JournalUnavailableError, SpendLimitError)


async def generate(ctx: Context, request: GenerateRequest) -> CallToolResult | InputRequiredResult:
    """Create one paid task, once the spend is approved (`server/consent.py`), and wait for it within the call's cap."""
    app = app_of(ctx)
    begun = await _begin(ctx, app, caller_of(ctx), request, waits=True)
    if not isinstance(begun, Begun):
        return begun
    try:
        outcome = await (await app.service()).wait_for(begun, progress_of(ctx))
    except CREATE_FAILURES as exc:
        raise create_error(exc, request, app) from exc
    return video_result(await saved(app, outcome, None, request.effective_timeout), ctx, list(begun.notes))


async def start_task(
    ctx: Context, app: AppContext, caller: Caller, request: GenerateRequest
) -> str | CallToolResult | InputRequiredResult:
    """`generate` for an MCP task (`server/tasks/`): the same checks, approval and errors, the task created once and
    not waited for (the MCP task follows it). Returns its external_task_id, or what `generate` returns instead of
    creating (the user's refusal, or the question itself)."""
    begun = await _begin(ctx, app, caller, request, waits=False)
    if not isinstance(begun, Begun):
        return begun
    return begun.started.external_task_id


async def _begin(
    ctx: Context, app: AppContext, caller: Caller, request: GenerateRequest, *, waits: bool
) -> Begun | CallToolResult | InputRequiredResult:
    """The start every create shares: the request prepared once (refused, before anyone is asked, when an argument
    is bad or it names elements the caller may not use), the spend approved, the task created once. Else the answer
    to give instead of creating: the user's refusal (a normal result, nothing sent) or the question (2026-07-28)."""
    caller.require(GENERATE_SCOPE, "creating a video (a paid Kling task)")
    service = await app.service()
    try:
        async with service.prepare(request, caller.viewer) as prepared:
            approval = await approve(ctx, app, prepared.request)
            if isinstance(approval, VideoTaskResult):
                return video_result(Outcome(approval, 0.0), ctx)
            if not isinstance(approval, Approval):
                return approval
            return await service.start(prepared, approval=approval, waits=waits)
    except CREATE_FAILURES as exc:
        raise create_error(exc, request, app) from exc


def create_error(exc: Exception, request: GenerateRequest, app: AppContext) -> ToolError:
    """A failed create as the tool's error; a task's next step names the tool that made it (the request's tool)."""
    if isinstance(exc, TaskCallError):
        step = next_step_for(exc.status, exc.task_id, exc.external_task_id, creator=tool_taking(type(request)))
        return ToolError(exc.worded(step))
    return to_tool_error(exc, app)


async def get_task(ctx: Context, arguments: GetTaskArguments) -> CallToolResult:
    """Look a task up (by either id), optionally wait for it and save its video."""
    app = app_of(ctx)
    caller = caller_of(ctx)
    caller.require(READ_SCOPE, "reading a task")
    download = arguments.download
    if download:  # writing on the server's disk is for callers who may generate, and is refused before any request
        caller.require(GENERATE_SCOPE, "saving a video on the server's disk (download=true)")
    elif download is None and not caller.holds(GENERATE_SCOPE):
        download = False  # the server's automatic saving (KLING_MCP_DOWNLOAD_DIR) is not done for read-only callers
    try:
        outcome = await (await app.service()).get(
            arguments.task_id, arguments.wait_seconds, progress_of(ctx), viewer=caller.viewer
        )
    except KlingError as exc:
        raise to_tool_error(exc, app) from exc
    # wait_seconds=0 (the default) asks for no wait, not for no time: a download it asks for gets the cap's time.
    return video_result(await saved(app, outcome, download, arguments.wait_seconds or None), ctx)


async def list_tasks(ctx: Context, arguments: ListTasksArguments) -> CallToolResult:
    """Recent tasks from the journal that the caller may see."""
    caller = caller_of(ctx)
    caller.require(READ_SCOPE, "listing tasks")
    app = app_of(ctx)
    try:
        listed = await (await app.service()).list_recent(
            limit=arguments.limit, status=arguments.status, viewer=caller.viewer
        )
    except JournalUnavailableError as exc:  # says which journal, what is wrong with it, and what to do
        raise to_tool_error(exc, app) from exc
    return task_list_result([placed_for(with_next_step(result), ctx) for result in listed])


async def watch_task(ctx: Context, arguments: WatchArguments) -> FollowState:
    """The player's app-only tool: one step of the view following a task."""
    if not client_supports_apps(ctx):
        raise ToolError(f"{WATCH_TOOL} serves the kling-mcp player in MCP Apps hosts; use {GET_TOOL}.")
    caller = caller_of(ctx)
    caller.require(READ_SCOPE, "following a task")  # the same scope and owner rules as kling_get_video_task
    app = app_of(ctx)
    try:
        state = await follow(await app.service(), arguments.task_id, arguments.wait_seconds, viewer=caller.viewer)
    except KlingError as exc:
        raise ToolError(str(exc)) from exc
    return state.model_copy(update={"result": with_next_step(state.result)})


async def create_element(ctx: Context, request: ElementRequest) -> ElementOutput:
    """Make one custom element from images (a Kling task, journaled before and after) and wait for it."""
    app = app_of(ctx)
    caller = caller_of(ctx)
    caller.require(GENERATE_SCOPE, "creating a custom element")
    try:
        result = await (await app.service()).elements.create(request, owner=caller.viewer.owner)
    except CREATE_FAILURES as exc:  # a failure after the create may have left names the ids (TaskCallError)
        raise to_tool_error(exc, app) from exc
    return ElementOutput(result=result)


async def list_elements(ctx: Context, arguments: ListElementsArguments) -> ElementListOutput:
    """The caller's elements from the journal."""
    caller = caller_of(ctx)
    caller.require(READ_SCOPE, "listing custom elements")
    app = app_of(ctx)
    try:
        listed = await (await app.service()).elements.list(limit=arguments.limit, viewer=caller.viewer)
    except JournalUnavailableError as exc:
        raise to_tool_error(exc, app) from exc
    return ElementListOutput(elements=listed)


async def get_element(ctx: Context, arguments: GetElementArguments) -> ElementOutput:
    """One of the caller's elements, refreshed from Kling."""
    caller = caller_of(ctx)
    caller.require(READ_SCOPE, "reading a custom element")
    app = app_of(ctx)
    try:
        result = await (await app.service()).elements.get(arguments.element_id, viewer=caller.viewer)
    except (KlingError, JournalUnavailableError) as exc:
        raise to_tool_error(exc, app) from exc
    return ElementOutput(result=result)


async def delete_element(ctx: Context, arguments: DeleteElementArguments) -> ElementOutput:
    """Delete one of the caller's elements at Kling."""
    caller = caller_of(ctx)
    caller.require(GENERATE_SCOPE, "deleting a custom element")
    app = app_of(ctx)
    try:
        result = await (await app.service()).elements.delete(arguments.element_id, viewer=caller.viewer)
    except (KlingError, JournalUnavailableError) as exc:
        raise to_tool_error(exc, app) from exc
    return ElementOutput(result=result)


async def get_credits(ctx: Context, arguments: CreditsArguments) -> CreditsOutput:
    """The account's resource packs (Kling's `GET /account/costs`, paced and cached), and the caller's own spend."""
    del arguments  # the tool takes none
    caller = caller_of(ctx)
    caller.require(READ_SCOPE, "reading the account's credits")
    app = app_of(ctx)
    runtime = await app.runtime()
    try:
        credits = await runtime.credits.read()
    except KlingError as exc:
        raise to_tool_error(exc, app) from exc
    owner = caller.viewer.owner
    try:
        spending = await anyio.to_thread.run_sync(
            partial(runtime.journal.spending, owner, app.settings.spend_limit, window=WINDOW_SECONDS)
        )
    except Exception:  # the journal's trouble is reported by the tools that need it; the credits stand alone
        return credits
    spend = OwnerSpend(owner=owner, spent_units=round(spending.spent, 3), limit_units=spending.limit)
    return credits.model_copy(update={"your_spend": spend})


async def list_models(ctx: Context, arguments: ModelsArguments) -> ModelCatalog:
    """What each model takes, read off the capability table (contacts nothing)."""
    caller_of(ctx).require(READ_SCOPE, "listing the models")
    found = catalog(creator_of, arguments.model)
    if not found.models:
        known = ", ".join(dict.fromkeys(entry.model for entry in catalog(creator_of).models))
        raise ToolError(
            invalid_input_text(f"model {arguments.model!r} is not one the tools reach; known: {known}", MODELS_TOOL)
        )
    return found
