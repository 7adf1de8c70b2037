"""The tools: each one's arguments model, handler and annotations, registered through `model_tool`."""

from __future__ import annotations

import functools

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.tools import Tool
from mcp_types import CallToolResult, ToolAnnotations

from kling_mcp.api.errors import KlingError
from kling_mcp.server.access import GENERATE_SCOPE, READ_SCOPE, caller_of
from kling_mcp.server.apps import WATCH_TOOL
from kling_mcp.server.arguments import GetTaskArguments, ListTasksArguments
from kling_mcp.server.context import app_of
from kling_mcp.server.descriptions import (
    GENERATE_DESCRIPTION,
    GENERATE_TOOL,
    GET_DESCRIPTION,
    GET_TOOL,
    LIST_DESCRIPTION,
    LIST_TOOL,
    TEXT_DESCRIPTION,
    TEXT_TOOL,
)
from kling_mcp.server.model_tool import model_tool
from kling_mcp.server.replies import progress_of, saved, video_result
from kling_mcp.server.tool_errors import to_tool_error
from kling_mcp.service.errors import InvalidInputError, JournalUnavailableError
from kling_mcp.service.inputs import VideoRequest
from kling_mcp.service.requests import GenerateRequest
from kling_mcp.service.results import TaskListOutput, VideoToolOutput
from kling_mcp.service.text_inputs import TextVideoRequest

# The OAuth scope each tool needs over HTTP (static tokens carry generate and read; stdio needs none).
TOOL_SCOPES = {
    GENERATE_TOOL: GENERATE_SCOPE,
    TEXT_TOOL: GENERATE_SCOPE,
    GET_TOOL: READ_SCOPE,
    LIST_TOOL: READ_SCOPE,
    WATCH_TOOL: READ_SCOPE,
}


async def generate(ctx: Context, request: GenerateRequest) -> CallToolResult:
    """Create one paid task and wait for it within the call's cap."""
    app = app_of(ctx)
    caller = caller_of(ctx)
    caller.require(GENERATE_SCOPE, "creating a video (a paid Kling task)")
    try:
        outcome = await (await app.service()).generate(request, progress_of(ctx), owner=caller.viewer.owner)
    except (InvalidInputError, KlingError, JournalUnavailableError) as exc:
        raise to_tool_error(exc, app) from exc
    return video_result(await saved(app, outcome, None, request.effective_timeout), ctx)


async def get_task(ctx: Context, arguments: GetTaskArguments) -> CallToolResult:
    """Look a task up (by either id), optionally wait for it and save its video."""
    app = app_of(ctx)
    caller = caller_of(ctx)
    caller.require(READ_SCOPE, "reading a task")
    try:
        outcome = await (await app.service()).get(
            arguments.task_id, arguments.wait_seconds, progress_of(ctx), viewer=caller.viewer
        )
    except KlingError as exc:
        raise to_tool_error(exc, app) from exc
    # wait_seconds=0 (the default) asks for no wait, not for no time: a download it asks for gets the cap's time.
    return video_result(await saved(app, outcome, arguments.download, arguments.wait_seconds or None), ctx)


async def list_tasks(ctx: Context, arguments: ListTasksArguments) -> TaskListOutput:
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
    return TaskListOutput(result=listed)


def _annotations(title: str, *, read_only: bool, idempotent: bool, open_world: bool) -> ToolAnnotations:
    # destructive_hint only means something for a tool that is not read-only.
    return ToolAnnotations(
        title=title,
        read_only_hint=read_only,
        destructive_hint=None if read_only else False,
        idempotent_hint=idempotent,
        open_world_hint=open_world,
    )


def build_tools() -> list[Tool]:
    """The tools, each refusing arguments it does not know (a misspelt `duraton` must not be ignored)."""
    return list(_tools())


@functools.cache
def _tools() -> tuple[Tool, ...]:
    # Built once per process and shared by every server built in it: the tools hold no state (each call finds its
    # server's AppContext through its Context), and their schemas cost pydantic a noticeable fraction of a second.
    generate_title = "Generate video from image (Kling)"
    text_title = "Generate video from text (Kling)"
    get_title = "Get Kling video task"
    list_title = "List Kling video tasks"
    return (
        model_tool(
            VideoRequest,
            generate,
            name=GENERATE_TOOL,
            title=generate_title,
            description=GENERATE_DESCRIPTION,
            # Every call creates a paid task: never idempotent.
            annotations=_annotations(generate_title, read_only=False, idempotent=False, open_world=True),
            output=VideoToolOutput,
        ),
        model_tool(
            TextVideoRequest,
            generate,
            name=TEXT_TOOL,
            title=text_title,
            description=TEXT_DESCRIPTION,
            annotations=_annotations(text_title, read_only=False, idempotent=False, open_world=True),
            output=VideoToolOutput,
        ),
        model_tool(
            GetTaskArguments,
            get_task,
            name=GET_TOOL,
            title=get_title,
            description=GET_DESCRIPTION,
            # Not read-only: with download=true (or KLING_MCP_DOWNLOAD_DIR) it writes the video file to disk.
            annotations=_annotations(get_title, read_only=False, idempotent=True, open_world=True),
            output=VideoToolOutput,
        ),
        model_tool(
            ListTasksArguments,
            list_tasks,
            name=LIST_TOOL,
            title=list_title,
            description=LIST_DESCRIPTION,
            annotations=_annotations(list_title, read_only=True, idempotent=True, open_world=False),
            output=TaskListOutput,
        ),
    )
