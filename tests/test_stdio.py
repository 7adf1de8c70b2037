"""The server as Claude Desktop runs it: a stdio subprocess, in both protocol modes; stdout carries only protocol."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from mcp import Client

from kling_mcp.config import Settings
from kling_mcp.sandbox.runner import SandboxServer
from tests.conftest import EXAMPLE_PNG, stdio_params, subprocess_env, text_of

# Every test here starts a server process.
pytestmark = [pytest.mark.anyio, pytest.mark.slow]


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_generate_over_stdio_subprocess(settings: Settings, sandbox: SandboxServer, mode: str) -> None:
    async with Client(stdio_params(settings), mode=mode) as client:
        result = await client.call_tool(
            "kling_generate_video_from_image",
            {"prompt": "a lighthouse in fog", "start_image_url": str(EXAMPLE_PNG), "duration": 10},
        )
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    assert result.structured_content["result"]["status"] == "succeed"
    [create] = sandbox.state.creates()
    assert create.body is not None
    assert create.body["duration"] == "10"
    # A local file is sent as bare base64 (no data: prefix), which the sandbox checks as Kling would.
    assert not create.body["image"].startswith(("data:", "http"))


async def test_missing_keys_do_not_crash_the_launch(settings: Settings, sandbox: SandboxServer) -> None:
    params = stdio_params(settings, KLING_ACCESS_KEY="", KLING_SECRET_KEY="")
    async with Client(params, mode="legacy") as client:
        tools = await client.list_tools()
        assert len(tools.tools) == 5
        result = await client.call_tool(
            "kling_generate_video_from_image", {"prompt": "x", "start_image_url": "https://example.com/a.png"}
        )
    assert result.is_error
    assert "KLING_ACCESS_KEY" in text_of(result) and "KLING_SECRET_KEY" in text_of(result)
    assert sandbox.state.requests == []


def _rpc(message: dict[str, object]) -> bytes:
    return (json.dumps(message) + "\n").encode()


def test_stdout_holds_only_protocol_messages_and_logs_hold_no_secret(
    settings: Settings, sandbox: SandboxServer, tmp_path: Path
) -> None:
    """Drive the raw stdio stream at DEBUG logging: every stdout line is JSON-RPC; stderr has logs, no secrets."""
    env = subprocess_env(settings, KLING_MCP_LOG_LEVEL="DEBUG")
    calls: list[dict[str, object]] = [
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "raw-test", "version": "0"},
            },
        },
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
        {
            "jsonrpc": "2.0",
            "id": 3,
            "method": "tools/call",
            "params": {
                "name": "kling_generate_video_from_image",
                "arguments": {"prompt": "rain", "start_image_url": "https://example.com/a.png"},
            },
        },
        {
            "jsonrpc": "2.0",
            "id": 4,
            "method": "tools/call",
            "params": {"name": "kling_generate_video_from_image", "arguments": {"prompt": "no image"}},
        },
    ]
    stderr_path = tmp_path / "stderr.log"
    answers: dict[int, dict[str, object]] = {}
    with (
        stderr_path.open("wb") as stderr_file,
        subprocess.Popen(
            [sys.executable, "-m", "kling_mcp"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr_file,
            env=env,
        ) as proc,
    ):
        assert proc.stdin is not None and proc.stdout is not None
        try:
            for call in calls:
                proc.stdin.write(_rpc(call))
                proc.stdin.flush()
                if "id" not in call:
                    continue
                while call["id"] not in answers:
                    line = proc.stdout.readline()
                    assert line, "server closed stdout"
                    message = json.loads(line)  # every stdout line must be a JSON-RPC message
                    assert message["jsonrpc"] == "2.0"
                    if "id" in message:
                        answers[message["id"]] = message
            proc.stdin.close()
            rest = proc.stdout.read()
            proc.wait(timeout=20)
        finally:
            if proc.poll() is None:
                proc.kill()
    for line in rest.splitlines():
        assert json.loads(line)["jsonrpc"] == "2.0"
    stderr = stderr_path.read_text()
    result = answers[3]["result"]
    assert isinstance(result, dict) and result.get("isError") is not True
    assert answers[4]["result"]["isError"] is True  # type: ignore[index]
    assert "DEBUG" in stderr, "debug logs should go to stderr"
    secret = settings.secret_key.get_secret_value() if settings.secret_key else "?"
    assert secret not in stderr
    assert "eyJ" not in stderr, "a JWT reached the logs"
    authorizations = {r.authorization for r in sandbox.state.requests}
    for header in authorizations:
        assert header is not None
        assert header.split()[1] not in stderr
        assert header.split()[1] not in json.dumps(answers)
