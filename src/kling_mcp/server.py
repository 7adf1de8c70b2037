"""The MCP edge: the server object, its lifespan (HTTP client, journal, service) and the three tools."""

from __future__ import annotations

import dataclasses
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, Literal

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, Field, ValidationError

from kling_mcp import __version__
from kling_mcp.api.errors import KlingConnectionError, KlingError
from kling_mcp.config import MissingCredentialsError, Settings
from kling_mcp.service.errors import InvalidInputError
from kling_mcp.service.images import ImagePolicy
from kling_mcp.service.inputs import VideoRequest
from kling_mcp.service.options import ServiceOptions
from kling_mcp.service.polling import PollSchedule
from kling_mcp.service.results import TaskListOutput, VideoToolOutput, summary

if TYPE_CHECKING:
    from mcp.server.auth.provider import TokenVerifier
    from mcp.server.auth.settings import AuthSettings
    from mcp.server.extension import Extension

    from kling_mcp.api.retry import RetryPolicy
    from kling_mcp.runtime import Runtime
    from kling_mcp.service.video import Outcome, VideoService

logger = logging.getLogger(__name__)

SERVER_NAME = "kling-mcp"
GENERATE_TOOL = "kling_generate_video_from_image"
GET_TOOL = "kling_get_video_task"
LIST_TOOL = "kling_list_video_tasks"

INSTRUCTIONS = (
    "Generates videos from still images with Kling (each created task is billed by Kling). "
    f"Call {GENERATE_TOOL} once per video; if it returns before the video is ready, poll {GET_TOOL} with the "
    f"task_id instead of generating again. {LIST_TOOL} shows recent tasks, including ones from earlier sessions."
)

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


@dataclass
class AppContext:
    """What the lifespan hands to every tool call; the service itself is built on the first call."""

    settings: Settings
    options: ServiceOptions
    stack: AsyncExitStack
    retry_policy: RetryPolicy | None = None
    unavailable_reason: str | None = None
    api_base_url: str = ""
    _runtime: Runtime | None = None
    _lock: anyio.Lock = field(default_factory=anyio.Lock)

    @property
    def auto_download(self) -> bool:
        """KLING_MCP_DOWNLOAD_DIR is set: save every finished video."""
        return self.settings.download_dir is not None

    async def runtime(self) -> Runtime:
        """The service and downloader, opened on first use (tools/list never pays for the HTTP stack)."""
        if self.unavailable_reason is not None:
            raise ToolError(self.unavailable_reason)
        async with self._lock:
            if self._runtime is None:
                from kling_mcp.runtime import open_runtime

                self._runtime = await open_runtime(self.settings, self.options, self.stack, self.retry_policy)
                self.api_base_url = self._runtime.base_url
            return self._runtime

    async def service(self) -> VideoService:
        """The video service (see `runtime`)."""
        return (await self.runtime()).service


def options_from(settings: Settings, image_policy: ImagePolicy | None = None) -> ServiceOptions:
    """The use case's knobs from the settings."""
    return ServiceOptions(
        max_wait_seconds=settings.max_wait_seconds,
        schedule=PollSchedule(min_interval=settings.poll_min_interval, max_interval=settings.poll_max_interval),
        image_policy=image_policy or ImagePolicy(),
        skip_capability_check=settings.skip_capability_check,
        # Calls due within this window share one list request; never more than half the shortest gap.
        coalesce_window=min(1.0, settings.poll_min_interval / 2),
    )


def make_lifespan(
    settings: Settings, image_policy: ImagePolicy | None = None, retry_policy: RetryPolicy | None = None
) -> Callable[[MCPServer[AppContext]], AbstractAsyncContextManager[AppContext]]:
    """The lifespan: holds what tool calls open (HTTP client, journal, sandbox) and closes it on shutdown."""

    @asynccontextmanager
    async def lifespan(_: MCPServer[AppContext]) -> AsyncIterator[AppContext]:
        async with AsyncExitStack() as stack:
            app = AppContext(settings, options_from(settings, image_policy), stack, retry_policy)
            app.api_base_url = settings.api_base_url
            if not settings.sandbox:
                try:
                    settings.credentials()
                except MissingCredentialsError as exc:
                    logger.warning("%s", exc)
                    app.unavailable_reason = str(exc)
            yield app

    return lifespan


def _app(ctx: Context) -> AppContext:
    app = ctx.request_context.lifespan_context
    assert isinstance(app, AppContext)
    return app


def describe_validation_error(exc: ValidationError) -> str:
    """One line per problem: `field: rule (got value)`."""
    lines = []
    for error in exc.errors(include_url=False):
        field = ".".join(str(p) for p in error["loc"]) or "arguments"
        message = error["msg"].removeprefix("Value error, ")
        got = error.get("input")
        shown = f" (got {got!r:.80})" if isinstance(got, str | int | float) and error["type"] != "value_error" else ""
        lines.append(f"{message}{shown}" if message.startswith(field) else f"{field}: {message}{shown}")
    return "; ".join(lines)


def to_tool_error(exc: Exception, app: AppContext) -> ToolError:
    """Turn any anticipated failure into a tool error whose text says what to change."""
    if isinstance(exc, ValidationError):
        return ToolError(f"Invalid input: {describe_validation_error(exc)}. No request was sent to Kling.")
    if isinstance(exc, InvalidInputError):
        return ToolError(f"Invalid input: {exc}. No request was sent to Kling.")
    if isinstance(exc, KlingConnectionError):
        return ToolError(f"{exc} (Kling API at {app.api_base_url}).")
    return ToolError(str(exc))


async def _saved(app: AppContext, outcome: Outcome, download: bool | None) -> Outcome:
    """The outcome with its videos saved locally when asked to (or, when not said, when the server is set to)."""
    wanted = app.auto_download if download is None else download
    if not wanted:
        return outcome
    downloader = (await app.runtime()).downloader
    return dataclasses.replace(outcome, result=await downloader.save(outcome.result))


def _result(outcome: Outcome) -> CallToolResult:
    output = VideoToolOutput(result=outcome.result)
    return CallToolResult(
        content=[TextContent(type="text", text=summary(outcome.result, waited=outcome.waited))],
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


def register_tools(server: MCPServer[AppContext]) -> None:
    """Add the three tools to the server."""

    async def generate(ctx: Context, **arguments: Any) -> CallToolResult:
        app = _app(ctx)
        try:
            request = VideoRequest.model_validate(arguments)
            outcome = await (await app.service()).generate(request, _progress(ctx))
        except (ValidationError, InvalidInputError, KlingError) as exc:
            raise to_tool_error(exc, app) from exc
        return _result(await _saved(app, outcome, None))

    generate.__signature__ = _flat_signature(VideoRequest, "ctx")  # type: ignore[attr-defined]
    generate.__name__ = GENERATE_TOOL  # names the SDK's argument model in its validation messages
    server.add_tool(
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

    @server.tool(
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
    )
    async def get_task(
        task_id: Annotated[str, Field(min_length=1, description="task_id (or external_task_id) of the task.")],
        ctx: Context,
        wait_seconds: Annotated[
            float,
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
        app = _app(ctx)
        try:
            outcome = await (await app.service()).get(task_id.strip(), wait_seconds, _progress(ctx))
        except KlingError as exc:
            raise to_tool_error(exc, app) from exc
        return _result(await _saved(app, outcome, download))

    @server.tool(
        name=LIST_TOOL,
        title="List Kling video tasks",
        description=LIST_DESCRIPTION,
        annotations=ToolAnnotations(
            title="List Kling video tasks", read_only_hint=True, idempotent_hint=True, open_world_hint=False
        ),
    )
    async def list_tasks(
        ctx: Context,
        limit: Annotated[int, Field(ge=1, le=200, description="How many tasks to list.")] = 20,
        status: Annotated[
            Literal["submitted", "processing", "succeed", "failed", "creating", "create_failed", "unknown"] | None,
            Field(description="Only tasks with this last known status."),
        ] = None,
    ) -> TaskListOutput:
        service = await _app(ctx).service()
        return TaskListOutput(result=await service.list_recent(limit=limit, status=status))


def build_server(
    settings: Settings,
    *,
    image_policy: ImagePolicy | None = None,
    retry_policy: RetryPolicy | None = None,
    token_verifier: TokenVerifier | None = None,
    auth: AuthSettings | None = None,
    extensions: Sequence[Extension] = (),
) -> MCPServer[AppContext]:
    """The kling-mcp MCP server for these settings (nothing is started until it runs).

    `token_verifier`/`auth` guard the HTTP transport and `extensions` wrap tool calls (see `http_app`).
    """
    server: MCPServer[AppContext] = MCPServer(
        name=SERVER_NAME,
        version=__version__,
        instructions=INSTRUCTIONS,
        lifespan=make_lifespan(settings, image_policy, retry_policy),
        log_level=settings.log_level,
        token_verifier=token_verifier,
        auth=auth,
        extensions=extensions,
    )
    register_tools(server)
    return server
