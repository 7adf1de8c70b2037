"""The MCP server object: its name, instructions, lifespan and tools."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.resources import FunctionResource

from kling_mcp import __version__
from kling_mcp.config import Settings
from kling_mcp.redaction import Redactor
from kling_mcp.server.apps import PlayerApps, hide_app_only_tools
from kling_mcp.server.call_gate import CallGate
from kling_mcp.server.context import AppContext, make_lifespan
from kling_mcp.server.descriptions import (
    CAPABILITIES_DESCRIPTION,
    CAPABILITIES_URI,
    GENERATE_TOOL,
    GET_TOOL,
    INSTRUCTIONS,
    LIST_TOOL,
)
from kling_mcp.server.edge import DeclaredOnly, Edge
from kling_mcp.server.stdio_transport import DEFAULT_MAX_MESSAGE_BYTES, serve_stdio
from kling_mcp.server.tasks import Tasks
from kling_mcp.server.tools import build_tools
from kling_mcp.service.prepare.images import ImagePolicy

if TYPE_CHECKING:
    from mcp.server.auth.provider import TokenVerifier
    from mcp.server.auth.settings import AuthSettings
    from mcp.server.extension import Extension

    from kling_mcp.api.retry import RetryPolicy

__all__ = ["GENERATE_TOOL", "GET_TOOL", "LIST_TOOL", "AppContext", "build_server"]

SERVER_NAME = "kling-mcp"


class KlingServer(MCPServer[AppContext]):
    """The SDK's server, served over stdio behind a reader that answers malformed JSON-RPC lines."""

    max_message_bytes = DEFAULT_MAX_MESSAGE_BYTES
    """The longest stdio line (one message) read; the CLI sets KLING_MCP_MAX_BODY_BYTES."""

    async def run_stdio_async(self) -> None:
        """Serve over stdin/stdout until stdin closes (see `kling_mcp.server.stdio_transport`)."""
        # MCPServer has no public way to serve other streams: its low-level server is private (mcp pinned to the
        # minor tested; tests/test_sdk_internals.py fails, naming it, if it moves).
        await serve_stdio(self._lowlevel_server, self.max_message_bytes)


def build_server(
    settings: Settings,
    *,
    image_policy: ImagePolicy | None = None,
    retry_policy: RetryPolicy | None = None,
    token_verifier: TokenVerifier | None = None,
    auth: AuthSettings | None = None,
    extensions: Sequence[Extension] = (),
    on_context: Callable[[AppContext], None] | None = None,
    redactor: Redactor | None = None,
    serve_callbacks: bool = False,
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
) -> MCPServer[AppContext]:
    """The kling-mcp MCP server for these settings (nothing is started until it runs).

    `token_verifier`/`auth` guard the HTTP transport and `extensions` wrap tool calls (see `kling_mcp.http.app`);
    the tasks protocol (`kling_mcp.server.tasks`) is always on and used only by clients that support it;
    `on_context` is handed each AppContext the lifespan creates (shutdown uses it to wrap up waiting calls).
    Every answer is scrubbed of credentials by `redactor` (default: JWTs, bearer tokens and the secret key).
    `serve_callbacks` says the HTTP app answers Kling's callbacks at KLING_MCP_PUBLIC_URL.
    `max_message_bytes` caps one message (line) over stdio, as KLING_MCP_MAX_BODY_BYTES caps a body over HTTP.
    """
    player = PlayerApps(settings)

    secret = settings.secret_key.get_secret_value() if settings.secret_key else None
    edge = Edge((redactor or Redactor()).with_secrets(secret))

    def context_created(app: AppContext) -> None:
        app.redactor = edge.redactor  # progress notifications do not pass the edge: they are scrubbed with its rules
        player.attach(app)
        if on_context is not None:
            on_context(app)

    tasks = Tasks(next((e for e in extensions if isinstance(e, CallGate)), None))
    tools = build_tools()
    server = KlingServer(
        name=SERVER_NAME,
        version=__version__,
        instructions=INSTRUCTIONS,
        lifespan=make_lifespan(settings, image_policy, retry_policy, context_created, serve_callbacks),
        log_level=settings.log_level,
        token_verifier=token_verifier,
        auth=auth,
        extensions=[player, *extensions, tasks],
        tools=tools,
        middleware=[edge, DeclaredOnly(tool.name for tool in tools), hide_app_only_tools, player.settle_listing],
    )
    server.add_resource(
        FunctionResource(
            uri=CAPABILITIES_URI,
            name="capabilities",
            title="Kling models and what each takes",
            description=CAPABILITIES_DESCRIPTION,
            mime_type="application/json",
            fn=capabilities_json,
        )
    )
    tasks.attach(server)  # its middleware runs inside the edge, so task answers are scrubbed too
    server.max_message_bytes = max_message_bytes
    return server


async def capabilities_json() -> str:
    """The `kling://capabilities` resource: what `kling_list_models` returns for every model."""
    from kling_mcp.server.tools import creator_of
    from kling_mcp.service.describe.catalog import catalog

    return catalog(creator_of).model_dump_json(indent=1)
