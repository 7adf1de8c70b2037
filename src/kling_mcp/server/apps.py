"""MCP Apps (`io.modelcontextprotocol/ui`): the player view and the tools bound to it.

Hosts that render MCP Apps show the player beside the generate and get tools' results; it follows the task through
the host (the app-only follow tool, declared with the other tools in `server/tools.py`) and plays the
video. Other clients see the same tools and results as before: the
only differences are decided per call by `client_supports_apps`.
"""

from __future__ import annotations

import logging
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from mcp.server.apps import APP_MIME_TYPE, Apps, ResourceCsp, client_supports_apps
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.resources import TextResource
from mcp_types import ListToolsResult
from pydantic import PrivateAttr

from kling_mcp.config import Settings
from kling_mcp.server.context import AppContext
from kling_mcp.server.descriptions import GET_TOOL

if TYPE_CHECKING:
    from kling_mcp.service.describe.task_results import VideoTaskResult

logger = logging.getLogger(__name__)

PLAYER_URI = "ui://kling-mcp/player.html"

# Where Kling serves generated videos and their covers: subdomains of these (v15-kling.klingai.com,
# p2-kling.klingai.com, v1-fdl.kechuangai.com, ...). A wildcard, because Kling rotates the numbered hosts.
KLING_MEDIA_DOMAINS = ("https://*.klingai.com", "https://*.kechuangai.com")
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})

APPS_NEXT_STEP = (
    "The kling-mcp player shown to the user follows this task and plays the video when it is ready: you need not "
    f"call {GET_TOOL} again (keep the task_id in case the user asks about it later)."
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


def player_ui_meta(api_base_url: str) -> dict[str, Any]:
    """The player's `_meta.ui`: its CSP (only the fields it sets: ext-apps' schema refuses null ones) and border."""
    return {"csp": player_csp(api_base_url).model_dump(by_alias=True, exclude_none=True), "prefersBorder": True}


class PlayerResource(TextResource):
    """The player; its CSP is worked out when read, because the in-process sandbox's port is only known then."""

    _app: AppContext | None = PrivateAttr(default=None)

    def attach(self, app: AppContext) -> None:
        """Use the running server's context (its Kling host, and its sandbox in sandbox mode)."""
        self._app = app

    async def settle(self) -> None:
        """Set `_meta.ui` (CSP, border) for this server's Kling host: the same for `resources/list` and `read`."""
        app = self._app
        if app is None:
            return
        base_url = app.api_base_url
        if app.settings.sandbox:
            base_url = (await app.runtime()).base_url  # starts the sandbox: its videos come from its port
        self.meta = {"ui": player_ui_meta(base_url)}

    async def read(self) -> str:
        """The HTML, with `_meta.ui` set for this server's Kling host first."""
        await self.settle()
        return self.text


class PlayerApps(Apps):
    """The Apps extension of kling-mcp: the player resource (the tools bound to it are in `server/tools.py`)."""

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
        self.resource.meta = {"ui": player_ui_meta(settings.api_base_url)}
        self.add_resource(self.resource)

    def attach(self, app: AppContext) -> None:
        """Give the player resource the running server's context (the lifespan calls this)."""
        self.resource.attach(app)

    async def settle_listing(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        """Server middleware: `resources/list` shows the player's `_meta.ui` exactly as `resources/read` will.

        In sandbox mode the in-process sandbox's port is part of the CSP, so listing starts the sandbox, as reading
        does; a server that cannot start lists the settings' CSP, and reading says why.
        """
        if ctx.method == "resources/list":
            try:
                await self.resource.settle()
            except Exception:
                logger.debug("player CSP not settled for resources/list", exc_info=True)
        return await call_next(ctx)


async def hide_app_only_tools(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
    """Server middleware: a client that does not render MCP Apps lists the same tools as before this view existed.

    Apps hosts hide `visibility: ["app"]` tools from their model themselves; other clients would show them to theirs.
    """
    result = await call_next(ctx)
    if ctx.method != "tools/list" or client_supports_apps(ctx):
        return result
    if isinstance(result, ListToolsResult):
        return result.model_copy(update={"tools": [tool for tool in result.tools if not _app_only(tool.meta)]})
    if isinstance(result, dict) and isinstance(result.get("tools"), list):  # the handler's serialized form
        return {**result, "tools": [tool for tool in result["tools"] if not _app_only(tool.get("_meta"))]}
    return result


def _app_only(meta: Any) -> bool:
    ui = meta.get("ui") if isinstance(meta, dict) else None
    return isinstance(ui, dict) and ui.get("visibility") == ["app"]


def player_meta(*, app_only: bool = False) -> dict[str, Any]:
    """A tool's `_meta` binding it to the player; `app_only` hides it from the model (the view calls it itself)."""
    ui: dict[str, Any] = {"resourceUri": PLAYER_URI}
    if app_only:
        ui["visibility"] = ["app"]
    return {"ui": ui}


def for_caller(result: VideoTaskResult, ctx: Context[Any]) -> VideoTaskResult:
    """The result as this caller should read it: in an Apps host the player follows the task, so the model need not."""
    if result.done or result.task_id is None or not client_supports_apps(ctx):
        return result
    return result.model_copy(update={"next_step": APPS_NEXT_STEP})
