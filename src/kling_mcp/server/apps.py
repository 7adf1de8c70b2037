"""MCP Apps (`io.modelcontextprotocol/ui`): the player view, the tools bound to it, and its app-only follow tool.

Hosts that render MCP Apps show the player beside the generate and get tools' results; it follows the task through
the host (the app-only tool below) and plays the video. Other clients see the same tools and results as before: the
only differences are decided per call by `client_supports_apps`.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from importlib import resources
from typing import Annotated, Any
from urllib.parse import urlsplit

from mcp.server.apps import APP_MIME_TYPE, Apps, ResourceCsp, client_supports_apps
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.resources import TextResource
from mcp.server.mcpserver.tools import Tool
from mcp_types import ListToolsResult, ToolAnnotations
from pydantic import Field, PrivateAttr

from kling_mcp.api.errors import KlingError
from kling_mcp.config import Settings
from kling_mcp.server.access import READ_SCOPE, caller_of
from kling_mcp.server.context import AppContext, app_of
from kling_mcp.service.follow import FollowState, follow
from kling_mcp.service.results import VideoTaskResult

PLAYER_URI = "ui://kling-mcp/player.html"
WATCH_TOOL = "kling_watch_video_task"

# Where Kling serves generated videos and their covers: subdomains of these (v15-kling.klingai.com,
# p2-kling.klingai.com, v1-fdl.kechuangai.com, ...). A wildcard, because Kling rotates the numbered hosts.
KLING_MEDIA_DOMAINS = ("https://*.klingai.com", "https://*.kechuangai.com")
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})

# One call of the app-only tool waits at most this long (and never longer than the server's wait cap), so the view
# shows fresh elapsed time and a host's request timeout is never reached.
WATCH_WAIT_SECONDS = 25.0

WATCH_DESCRIPTION = """For the kling-mcp player view only: the state of one Kling video task, what it was asked to \
make, when tasks like it usually finish and when to ask again. Waits up to wait_seconds for the task to finish. \
Costs nothing at Kling."""

APPS_NEXT_STEP = (
    "The kling-mcp player shown to the user follows this task and plays the video when it is ready: you need not "
    "call kling_get_video_task again (keep the task_id in case the user asks about it later)."
)


def player_html() -> str:
    """The player's HTML: one self-contained document (inline script and style), shipped in the package."""
    return resources.files("kling_mcp.assets").joinpath("player.html").read_text(encoding="utf-8")


def loopback_origin(url: str) -> str | None:
    """`scheme://host:port` of a URL on this machine (a Kling sandbox), else None."""
    parts = urlsplit(url)
    if parts.hostname not in LOOPBACK_HOSTS or not parts.scheme:
        return None
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def player_csp(api_base_url: str) -> ResourceCsp:
    """Exactly where the player loads media from: Kling's CDN, plus the sandbox when the server talks to one."""
    domains = list(KLING_MEDIA_DOMAINS)
    sandbox = loopback_origin(api_base_url)
    if sandbox is not None:
        domains.append(sandbox)
    # The player makes no requests of its own (tool calls go through the host), so no connectDomains.
    return ResourceCsp(resource_domains=domains)


class PlayerResource(TextResource):
    """The player; its CSP is worked out when read, because the in-process sandbox's port is only known then."""

    _app: AppContext | None = PrivateAttr(default=None)

    def attach(self, app: AppContext) -> None:
        """Use the running server's context (its Kling host, and its sandbox in sandbox mode)."""
        self._app = app

    async def read(self) -> str:
        """The HTML, with `_meta.ui` (CSP, border) set for this server's Kling host first."""
        app = self._app
        base_url = app.api_base_url if app else ""
        if app is not None and app.settings.sandbox:
            base_url = (await app.runtime()).base_url  # starts the sandbox: its videos come from its port
        csp = player_csp(base_url).model_dump(by_alias=True, exclude_none=True)
        self.meta = {"ui": {"csp": csp, "prefersBorder": True}}
        return self.text


class PlayerApps(Apps):
    """The Apps extension of kling-mcp: the player resource (the app-only follow tool is `follow_tool`)."""

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self.resource = PlayerResource(
            uri=PLAYER_URI,
            name="kling-player",
            title="Kling video player",
            description="Follows a Kling video task and plays the finished video.",
            mime_type=APP_MIME_TYPE,  # explicit, so the extension registers this object rather than a copy
            text=player_html(),
        )
        self.resource.meta = {"ui": {"csp": player_csp(settings.api_base_url).model_dump(by_alias=True)}}
        self.add_resource(self.resource)

    def attach(self, app: AppContext) -> None:
        """Give the player resource the running server's context (the lifespan calls this)."""
        self.resource.attach(app)


async def watch_task(
    task_id: Annotated[str, Field(min_length=1, description="task_id (or external_task_id) of the task.")],
    ctx: Context,
    wait_seconds: Annotated[float, Field(ge=0, le=WATCH_WAIT_SECONDS, description="Wait up to this long.")] = 0,
) -> FollowState:
    """The app-only tool: one step of the player following a task."""
    if not client_supports_apps(ctx):
        raise ToolError(f"{WATCH_TOOL} serves the kling-mcp player in MCP Apps hosts; use kling_get_video_task.")
    caller = caller_of(ctx)
    caller.require(READ_SCOPE, "following a task")  # the same scope and owner rules as kling_get_video_task
    app = app_of(ctx)
    try:
        return await follow(await app.service(), task_id.strip(), wait_seconds, viewer=caller.viewer)
    except KlingError as exc:
        raise ToolError(str(exc)) from exc


@functools.cache
def follow_tool() -> Tool:
    """The app-only follow tool, bound to the player: built once per process and shared, like the other tools.

    Not registered through `Apps.tool()`: the SDK rebuilds an extension's tools, and their schemas, for every
    server (a noticeable cost where many servers are built, as in the tests); a built tool is passed to each.
    """
    title = "Follow Kling video task (player)"
    return Tool.from_function(
        watch_task,
        name=WATCH_TOOL,
        title=title,
        description=WATCH_DESCRIPTION,
        annotations=ToolAnnotations(title=title, read_only_hint=True, idempotent_hint=True, open_world_hint=True),
        meta={"ui": {"resourceUri": PLAYER_URI, "visibility": ["app"]}},
        structured_output=True,
    )


async def hide_app_only_tools(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
    """Server middleware: a client that does not render MCP Apps lists the same tools as before this view existed.

    Apps hosts hide `visibility: ["app"]` tools from their model themselves; other clients would show them to theirs.
    """
    result = await call_next(ctx)
    if ctx.method != "tools/list" or client_supports_apps(ctx):
        return result
    if isinstance(result, ListToolsResult):
        return result.model_copy(update={"tools": [tool for tool in result.tools if tool.name != WATCH_TOOL]})
    if isinstance(result, dict) and isinstance(result.get("tools"), list):  # the handler's serialized form
        return {**result, "tools": [tool for tool in result["tools"] if tool.get("name") != WATCH_TOOL]}
    return result


def bind_player(tools: Sequence[Tool], names: Sequence[str]) -> list[Tool]:
    """The tools, with those named bound to the player (`_meta.ui.resourceUri`); copies, the originals are shared."""
    return [
        tool.model_copy(update={"meta": {**(tool.meta or {}), "ui": {"resourceUri": PLAYER_URI}}})
        if tool.name in names
        else tool
        for tool in tools
    ]


def for_caller(result: VideoTaskResult, ctx: Context[Any]) -> VideoTaskResult:
    """The result as this caller should read it: in an Apps host the player follows the task, so the model need not."""
    if result.done or result.task_id is None or not client_supports_apps(ctx):
        return result
    return result.model_copy(update={"next_step": APPS_NEXT_STEP})
