"""MCP Apps over streamable HTTP: the real server process and a real client that renders Apps, in both eras."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp.server.apps import APP_MIME_TYPE

from kling_mcp.config import Settings
from kling_mcp.sandbox.runner import SandboxServer
from kling_mcp.server.apps import KLING_MEDIA_DOMAINS, PLAYER_URI
from tests.apps_host import apps_client
from tests.http_support import run_server
from tests.names import WATCH

pytestmark = [pytest.mark.slow, pytest.mark.anyio]


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_player_over_streamable_http(
    settings: Settings, sandbox: SandboxServer, tmp_path: Path, mode: str
) -> None:
    with run_server(settings, tmp_path) as server:
        async with apps_client(server.mcp_url, mode=mode) as client:
            tools = {tool.name: tool for tool in (await client.list_tools()).tools}
            metas = {name: tool.meta or {} for name, tool in tools.items()}
            assert metas["kling_generate_video_from_image"]["ui"]["resourceUri"] == PLAYER_URI
            assert metas["kling_get_video_task"]["ui"]["resourceUri"] == PLAYER_URI
            assert metas[WATCH]["ui"]["visibility"] == ["app"]
            [content] = (await client.read_resource(PLAYER_URI)).contents
            assert content.mime_type == APP_MIME_TYPE
            assert content.meta is not None
            assert content.meta["ui"]["csp"] == {"resourceDomains": [*KLING_MEDIA_DOMAINS, sandbox.url]}
            assert "ui/initialize" in getattr(content, "text", "")
