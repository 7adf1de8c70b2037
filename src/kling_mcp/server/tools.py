"""The tools as a client lists them: name, title, description, annotations, player binding and OAuth scope.

What each tool does is in `server/handlers.py`, loaded on the first call; the schemas come from
`server/schema_cache.py`. Adding a tool: its arguments model and handler in `handlers.BINDINGS`, its row here.
"""

from __future__ import annotations

import functools
from typing import Any

from mcp.server.mcpserver.tools import Tool
from mcp_types import ToolAnnotations

from kling_mcp.server.access import GENERATE_SCOPE, READ_SCOPE
from kling_mcp.server.apps import player_meta
from kling_mcp.server.descriptions import (
    GENERATE_DESCRIPTION,
    GENERATE_TOOL,
    GET_DESCRIPTION,
    GET_TOOL,
    LIST_DESCRIPTION,
    LIST_TOOL,
    TEXT_DESCRIPTION,
    TEXT_TOOL,
    WATCH_DESCRIPTION,
    WATCH_TOOL,
)
from kling_mcp.server.model_tool import Binding, model_tool
from kling_mcp.server.schema_cache import published

# The OAuth scope each tool needs over HTTP (static tokens carry generate and read; stdio needs none). Every tool is
# here: these are the names whose schemas must be kept (server/schema_cache.py).
TOOL_SCOPES = {
    GENERATE_TOOL: GENERATE_SCOPE,
    TEXT_TOOL: GENERATE_SCOPE,
    GET_TOOL: READ_SCOPE,
    LIST_TOOL: READ_SCOPE,
    WATCH_TOOL: READ_SCOPE,
}


def binding(name: str) -> Binding[Any]:
    """The named tool's models and handler (the first call loads them, with the service they use)."""
    from kling_mcp.server.handlers import BINDINGS

    return BINDINGS[name]


def _annotations(title: str, *, read_only: bool, idempotent: bool, open_world: bool) -> ToolAnnotations:
    # destructive_hint only means something for a tool that is not read-only.
    return ToolAnnotations(
        title=title,
        read_only_hint=read_only,
        destructive_hint=None if read_only else False,
        idempotent_hint=idempotent,
        open_world_hint=open_world,
    )


def _tool(
    name: str,
    title: str,
    description: str,
    *,
    read_only: bool,
    idempotent: bool,
    open_world: bool,
    meta: dict[str, Any] | None = None,
) -> Tool:
    annotations = _annotations(title, read_only=read_only, idempotent=idempotent, open_world=open_world)
    return model_tool(
        functools.partial(binding, name),
        published(frozenset(TOOL_SCOPES))[name],
        name=name,
        title=title,
        description=description,
        annotations=annotations,
        meta=meta,
    )


def build_tools() -> list[Tool]:
    """The tools, each refusing arguments it does not know (a misspelt `duraton` must not be ignored)."""
    return list(_tools())


@functools.cache
def _tools() -> tuple[Tool, ...]:
    # Built once per process and shared by every server built in it: the tools hold no state (each call finds its
    # server's AppContext through its Context).
    return (
        # Every call creates a paid task: never idempotent.
        _tool(
            GENERATE_TOOL,
            "Generate video from image (Kling)",
            GENERATE_DESCRIPTION,
            read_only=False,
            idempotent=False,
            open_world=True,
            meta=player_meta(),
        ),
        _tool(
            TEXT_TOOL,
            "Generate video from text (Kling)",
            TEXT_DESCRIPTION,
            read_only=False,
            idempotent=False,
            open_world=True,
            meta=player_meta(),
        ),
        # Not read-only: with download=true (or KLING_MCP_DOWNLOAD_DIR) it writes the video file to disk.
        _tool(
            GET_TOOL,
            "Get Kling video task",
            GET_DESCRIPTION,
            read_only=False,
            idempotent=True,
            open_world=True,
            meta=player_meta(),
        ),
        _tool(LIST_TOOL, "List Kling video tasks", LIST_DESCRIPTION, read_only=True, idempotent=True, open_world=False),
        # App-only: the player calls it to follow a task; hosts keep it from their model.
        _tool(
            WATCH_TOOL,
            "Follow Kling video task (player)",
            WATCH_DESCRIPTION,
            read_only=True,
            idempotent=True,
            open_world=True,
            meta=player_meta(app_only=True),
        ),
    )
