"""What each tool does when called: its handler, the model that validates its arguments, and its output model.

Loaded on a server's first tool call, not at start: listing the tools needs only their published schemas
(`server/schema_cache.py`), while this module pulls in the service, the journal and every model.
"""

from __future__ import annotations

from typing import Any

from mcp.server.apps import client_supports_apps
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult

from kling_mcp.api.errors import KlingError
from kling_mcp.server.access import GENERATE_SCOPE, READ_SCOPE, caller_of
from kling_mcp.server.arguments import GetTaskArguments, ListTasksArguments, WatchArguments
from kling_mcp.server.context import app_of
from kling_mcp.server.descriptions import GENERATE_TOOL, GET_TOOL, LIST_TOOL, TEXT_TOOL, WATCH_TOOL
from kling_mcp.server.model_tool import Binding
from kling_mcp.server.replies import progress_of, saved, task_list_result, video_result, with_next_steps
from kling_mcp.server.tool_errors import to_tool_error
from kling_mcp.service.describe.follow import FollowState, follow
from kling_mcp.service.describe.task_results import TaskListOutput, VideoToolOutput
from kling_mcp.service.failures import InvalidInputError, JournalUnavailableError, TaskCallError
from kling_mcp.service.prepare.bodies import GenerateRequest
from kling_mcp.service.prepare.image_request import VideoRequest
from kling_mcp.service.prepare.text_request import TextVideoRequest


async def generate(ctx: Context, request: GenerateRequest) -> CallToolResult:
    """Create one paid task and wait for it within the call's cap."""
    app = app_of(ctx)
    caller = caller_of(ctx)
    caller.require(GENERATE_SCOPE, "creating a video (a paid Kling task)")
    try:
        outcome = await (await app.service()).generate(request, progress_of(ctx), owner=caller.viewer.owner)
    except TaskCallError as exc:  # its next step names the tool that made the task (see `replies.with_next_step`)
        creator = TEXT_TOOL if isinstance(request, TextVideoRequest) else GENERATE_TOOL
        step = exc.next_step.replace(GENERATE_TOOL, creator)
        raise ToolError(str(exc).replace(exc.next_step, step)) from exc
    except (InvalidInputError, KlingError, JournalUnavailableError) as exc:
        raise to_tool_error(exc, app) from exc
    return video_result(await saved(app, outcome, None, request.effective_timeout), ctx)


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
    return task_list_result(with_next_steps(listed))


async def watch_task(ctx: Context, arguments: WatchArguments) -> FollowState:
    """The player's app-only tool: one step of the view following a task."""
    if not client_supports_apps(ctx):
        raise ToolError(f"{WATCH_TOOL} serves the kling-mcp player in MCP Apps hosts; use {GET_TOOL}.")
    caller = caller_of(ctx)
    caller.require(READ_SCOPE, "following a task")  # the same scope and owner rules as kling_get_video_task
    app = app_of(ctx)
    try:
        return await follow(await app.service(), arguments.task_id, arguments.wait_seconds, viewer=caller.viewer)
    except KlingError as exc:
        raise ToolError(str(exc)) from exc


BINDINGS: dict[str, Binding[Any]] = {
    GENERATE_TOOL: Binding(VideoRequest, generate, VideoToolOutput),
    TEXT_TOOL: Binding(TextVideoRequest, generate, VideoToolOutput),
    GET_TOOL: Binding(GetTaskArguments, get_task, VideoToolOutput),
    LIST_TOOL: Binding(ListTasksArguments, list_tasks, TaskListOutput),
    WATCH_TOOL: Binding(WatchArguments, watch_task, FollowState),
}
