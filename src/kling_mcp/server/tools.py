"""The three MCP tools: descriptions for the model, schemas, and the edge where errors become tool errors."""

from __future__ import annotations

import dataclasses
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.tools import Tool
from mcp.server.mcpserver.utilities.func_metadata import ArgModelBase
from mcp_types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kling_mcp.api.errors import KlingConnectionError, KlingError
from kling_mcp.server.context import AppContext, app_of
from kling_mcp.server.edge import describe_invalid_arguments, invalid_input_text
from kling_mcp.service.errors import InvalidInputError, JournalUnavailableError
from kling_mcp.service.inputs import VideoRequest, not_a_boolean
from kling_mcp.service.results import ResultStatus, TaskListOutput, VideoToolOutput, summary

if TYPE_CHECKING:
    from kling_mcp.service.video import Outcome

logger = logging.getLogger(__name__)

GENERATE_TOOL = "kling_generate_video_from_image"
GET_TOOL = "kling_get_video_task"
LIST_TOOL = "kling_list_video_tasks"

# A download after the wait may use the rest of the wait cap plus this grace, and never less than the minimum.
DOWNLOAD_GRACE_SECONDS = 8.0
MIN_DOWNLOAD_SECONDS = 5.0

GENERATE_DESCRIPTION = f"""Generate AI video by animating a start image, end image, or both. Describe motion and \
transitions in a prompt. Supports various models, durations, and aspect ratios.

Generate AI video using reference images as start and/or end frames. This allows you to control the video by \
specifying what the first frame and/or last frame should look like. Kling will generate smooth motion between them.
Use this when:
- You have a specific image you want to animate
- You want to create a video transition between two images
- You need precise control over the video's visual content
At least one of start_image_url or end_image_url must be provided.

Cost and time: every call creates one paid Kling task (more credits for 'pro', longer durations and audio). Videos \
usually take 30 s to several minutes. The call waits for the video up to the smaller of `timeout` and the server's \
cap (default 50 s), reporting progress meanwhile. If the video is not ready by then it returns the task_id with \
status 'submitted' or 'processing' - that is not an error: call {GET_TOOL} with that task_id and wait_seconds=50, \
again until `done` is true. Never call this tool again for the same video: that would pay for a second task.

Returns:
Task ID and generated video information including URLs and state (structured `result`). Show the video URL to the \
user: Kling deletes videos after 30 days. When the server saves videos (KLING_MCP_DOWNLOAD_DIR), each video's \
local_path says where."""

GET_DESCRIPTION = f"""Check a Kling video task created by {GENERATE_TOOL}; optionally wait for it and save the video.

Pass the task_id (or external_task_id) that {GENERATE_TOOL} returned, also after that call timed out or the client \
restarted. With wait_seconds > 0 the call waits up to that long (capped by the server, default 50 s) for the video; \
if the task is still not done, call again. Costs nothing at Kling. Returns the same structured task object: status, \
and the video URLs once status is 'succeed'. With download=true the finished MP4 is also saved on the server's disk \
and its path returned as local_path (Kling deletes videos after 30 days). A failed task is reported as an error \
with Kling's reason."""

LIST_DESCRIPTION = """List recent Kling video tasks from this server's task journal (newest first), including tasks \
from earlier sessions or calls that timed out: use it to find a task_id you no longer have. Costs nothing and does \
not contact Kling; use kling_get_video_task for a task's current state."""


def to_tool_error(exc: Exception, app: AppContext) -> ToolError:
    """Turn any anticipated failure into a tool error whose text says what to change."""
    if isinstance(exc, ValidationError):
        return ToolError(invalid_input_text(describe_invalid_arguments(exc)))
    if isinstance(exc, InvalidInputError):
        return ToolError(invalid_input_text(str(exc)))
    if isinstance(exc, KlingConnectionError):
        return ToolError(f"{exc} (Kling API at {app.api_base_url}).")
    return ToolError(str(exc))


async def _saved(app: AppContext, outcome: Outcome, download: bool | None) -> Outcome:
    """The outcome with its videos saved locally when asked to (or, when not said, when the server is set to)."""
    wanted = app.auto_download if download is None else download
    if not wanted:
        return outcome
    downloader = (await app.runtime()).downloader
    # The whole call must still answer before the client gives up (the same reason as the wait cap).
    time_limit = max(MIN_DOWNLOAD_SECONDS, app.options.max_wait_seconds + DOWNLOAD_GRACE_SECONDS - outcome.waited)
    return dataclasses.replace(outcome, result=await downloader.save(outcome.result, time_limit))


def _result(outcome: Outcome) -> CallToolResult:
    output = VideoToolOutput(result=outcome.result)
    text = summary(outcome.result, waited=outcome.waited, wait_note=outcome.wait_note)
    return CallToolResult(
        content=[TextContent(type="text", text=text)],
        structured_content=output.model_dump(mode="json"),
    )


def _progress(ctx: Context) -> Callable[[float, float | None, str], Awaitable[None]]:
    async def report(done: float, total: float | None, message: str) -> None:
        try:
            await ctx.report_progress(round(done, 1), round(total, 1) if total else None, message)
        except Exception:  # a client that went away must not fail the call (the task id is journaled anyway)
            logger.debug("progress notification not delivered", exc_info=True)

    return report


def _flat_signature(model: type[BaseModel], ctx_name: str) -> inspect.Signature:
    """A signature with one keyword parameter per model field, so the SDK publishes a flat input schema."""
    params = []
    for name, info in model.model_fields.items():
        annotation: Any = Annotated[(info.annotation, *info.metadata, Field(description=info.description))]
        default = inspect.Parameter.empty if info.is_required() else info.default
        params.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default))
    params.append(inspect.Parameter(ctx_name, inspect.Parameter.KEYWORD_ONLY, annotation=Context))
    return inspect.Signature(params, return_annotation=Annotated[CallToolResult, VideoToolOutput])


def _refuse_unknown_arguments(tool: Tool) -> Tool:
    """Make the tool's argument model forbid names it does not declare, in validation and in the published schema."""
    loose = tool.fn_metadata.arg_model
    strict: type[ArgModelBase] = type(
        loose.__name__, (loose,), {"model_config": ConfigDict(**loose.model_config, extra="forbid")}
    )
    tool.fn_metadata.arg_model = strict
    tool.parameters = strict.model_json_schema(by_alias=True)
    return tool


def build_tools() -> list[Tool]:
    """The three tools, each refusing arguments it does not know (a misspelt `duraton` must not be ignored)."""

    async def generate(ctx: Context, **arguments: Any) -> CallToolResult:
        app = app_of(ctx)
        try:
            request = VideoRequest.model_validate(arguments)
            outcome = await (await app.service()).generate(request, _progress(ctx))
        except (ValidationError, InvalidInputError, KlingError, JournalUnavailableError) as exc:
            raise to_tool_error(exc, app) from exc
        return _result(await _saved(app, outcome, None))

    generate.__signature__ = _flat_signature(VideoRequest, "ctx")  # type: ignore[attr-defined]
    generate.__name__ = GENERATE_TOOL  # names the SDK's argument model in its validation messages
    generate_tool = Tool.from_function(
        generate,
        name=GENERATE_TOOL,
        title="Generate video from image (Kling)",
        description=GENERATE_DESCRIPTION,
        annotations=ToolAnnotations(
            title="Generate video from image (Kling)",
            read_only_hint=False,
            destructive_hint=False,
            idempotent_hint=False,
            open_world_hint=True,
        ),
        structured_output=True,
    )

    async def get_task(
        task_id: Annotated[str, Field(min_length=1, description="task_id (or external_task_id) of the task.")],
        ctx: Context,
        wait_seconds: Annotated[
            float,
            not_a_boolean("a number of seconds"),
            Field(ge=0, le=3600, description="Wait up to this long for the task to finish (capped by the server)."),
        ] = 0,
        download: Annotated[
            bool | None,
            Field(
                description="Also save the finished MP4 on the server's disk and return its local_path (true), or "
                "not (false). Default: the server's setting (KLING_MCP_DOWNLOAD_DIR)."
            ),
        ] = None,
    ) -> Annotated[CallToolResult, VideoToolOutput]:
        app = app_of(ctx)
        try:
            outcome = await (await app.service()).get(task_id.strip(), wait_seconds, _progress(ctx))
        except KlingError as exc:
            raise to_tool_error(exc, app) from exc
        return _result(await _saved(app, outcome, download))

    async def list_tasks(
        ctx: Context,
        limit: Annotated[
            int, not_a_boolean("a whole number"), Field(ge=1, le=200, description="How many tasks to list.")
        ] = 20,
        status: Annotated[ResultStatus | None, Field(description="Only tasks with this last known status.")] = None,
    ) -> TaskListOutput:
        app = app_of(ctx)
        try:
            return TaskListOutput(result=await (await app.service()).list_recent(limit=limit, status=status))
        except JournalUnavailableError as exc:
            raise to_tool_error(exc, app) from exc

    return [
        _refuse_unknown_arguments(tool)
        for tool in (
            generate_tool,
            Tool.from_function(
                get_task,
                name=GET_TOOL,
                title="Get Kling video task",
                description=GET_DESCRIPTION,
                # Not read-only: with download=true (or KLING_MCP_DOWNLOAD_DIR) it writes the video file to disk.
                annotations=ToolAnnotations(
                    title="Get Kling video task",
                    read_only_hint=False,
                    destructive_hint=False,
                    idempotent_hint=True,
                    open_world_hint=True,
                ),
            ),
            Tool.from_function(
                list_tasks,
                name=LIST_TOOL,
                title="List Kling video tasks",
                description=LIST_DESCRIPTION,
                annotations=ToolAnnotations(
                    title="List Kling video tasks", read_only_hint=True, idempotent_hint=True, open_world_hint=False
                ),
            ),
        )
    ]
