"""Stateless mode: two server processes sharing one journal and one Kling behave as one service."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from kling_mcp.config import Settings
from kling_mcp.sandbox.runner import SandboxServer
from tests.conftest import text_of
from tests.http_support import INITIALIZE, JSON_HEADERS, TOKEN, HttpServer, connect, run_server
from tests.names import GENERATE, GET, LIST

# Every test here starts a server process.
pytestmark = [pytest.mark.anyio, pytest.mark.slow]


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_a_task_created_through_one_replica_is_read_through_the_other(
    settings: Settings, sandbox: SandboxServer, tmp_path: Path, mode: str, shared_journal: str
) -> None:
    sandbox.state.config.run_seconds = 1.5
    env = {"KLING_MCP_AUTH_TOKEN": TOKEN, "KLING_MCP_JOURNAL": shared_journal}
    with (
        run_server(settings, tmp_path, "--stateless", **env) as replica_a,  # type: ignore[arg-type]
        run_server(settings, tmp_path, "--stateless", **env) as replica_b,  # type: ignore[arg-type]
    ):
        async with connect(replica_a.mcp_url, mode=mode) as client:
            created = await client.call_tool(
                GENERATE, {"prompt": "a kite", "start_image_url": "https://example.com/a.png", "timeout": 0.2}
            )
        assert not created.is_error, text_of(created)
        assert created.structured_content is not None
        pending = created.structured_content["result"]
        assert pending["status"] in ("submitted", "processing")  # handed back before the video was ready
        task_id = pending["task_id"]

        async with connect(replica_b.mcp_url, mode=mode) as client:
            listed = await client.call_tool(LIST, {})
            got = await client.call_tool(GET, {"task_id": task_id, "wait_seconds": 15})
    assert listed.structured_content is not None
    assert task_id in [t["task_id"] for t in listed.structured_content["result"]]  # B sees A's journal entry
    assert not got.is_error, text_of(got)
    assert got.structured_content is not None
    assert got.structured_content["result"]["status"] == "succeed"
    assert got.structured_content["result"]["videos"]
    assert len(sandbox.state.creates()) == 1


def _rpc(server: HttpServer, message: dict[str, object]) -> tuple[httpx.Response, dict[str, object]]:
    headers = {**JSON_HEADERS, "Authorization": f"Bearer {TOKEN}", "mcp-protocol-version": "2025-11-25"}
    with httpx.Client(timeout=10) as http:
        response = http.post(server.mcp_url, headers=headers, content=json.dumps(message).encode())
    data = [line[5:].strip() for line in response.text.splitlines() if line.startswith("data:")]
    return response, json.loads(data[-1]) if data else {}


@pytest.mark.usefixtures("sandbox")
def test_requests_of_one_client_may_alternate_between_replicas(settings: Settings, tmp_path: Path) -> None:
    """What a round-robin load balancer does: initialize on A, then each request to whichever replica."""
    with (
        run_server(settings, tmp_path, "--stateless", KLING_MCP_AUTH_TOKEN=TOKEN) as replica_a,
        run_server(settings, tmp_path, "--stateless", KLING_MCP_AUTH_TOKEN=TOKEN) as replica_b,
    ):
        opened, _ = _rpc(replica_a, INITIALIZE)
        assert opened.status_code == 200
        assert "mcp-session-id" not in opened.headers  # nothing to stick to
        for number, replica in enumerate([replica_b, replica_a, replica_b], start=2):
            response, answer = _rpc(
                replica, {"jsonrpc": "2.0", "id": number, "method": "tools/call", "params": {"name": LIST}}
            )
            assert response.status_code == 200, response.text
            assert answer["id"] == number
            result = answer.get("result") if isinstance(answer, dict) else None
            assert isinstance(result, dict) and not result.get("isError")
