"""The files in examples/ work as written: client configs connect, the Python script makes a video."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from kling_mcp.config import Settings
from kling_mcp.sandbox.runner import SandboxServer
from kling_mcp.service.journal import open_journal
from tests.conftest import EXAMPLE_PNG, checkout_state, subprocess_env, text_of
from tests.http_support import free_port

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
SETTINGS_VARIABLES = {str(field.validation_alias) for field in Settings.model_fields.values()}


def _server_entry(name: str) -> dict[str, Any]:
    config = json.loads((EXAMPLES / name).read_text())
    entry: dict[str, Any] = config["mcpServers"]["kling"]
    return entry


# Claude Desktop sees no shell PATH and no virtual environment: the example names the venv's command by its path.
VENV_PLACEHOLDER = "/absolute/path/to/kling-mcp/.venv/bin/"


def test_claude_desktop_config_runs_the_installed_command_by_its_path_with_known_variables() -> None:
    entry = _server_entry("claude_desktop_config.json")
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert entry["command"].startswith(VENV_PLACEHOLDER)
    assert entry["command"].removeprefix(VENV_PLACEHOLDER) in scripts, "the console script pip installs"
    assert entry.get("args", []) == []
    assert set(entry["env"]) <= SETTINGS_VARIABLES
    assert {"KLING_ACCESS_KEY", "KLING_SECRET_KEY"} <= set(entry["env"])
    assert f'"command": "{entry["command"]}"' in (ROOT / "README.md").read_text(), "the README shows the same"


@pytest.mark.slow  # launches the installed command
async def test_claude_desktop_config_starts_the_server_from_this_virtual_environment(tmp_path: Path) -> None:
    """As Claude Desktop would: the command's absolute path (here, this environment's), the env block, no shell."""
    entry = _server_entry("claude_desktop_config.json")
    command = entry["command"].replace(VENV_PLACEHOLDER, f"{Path(sys.executable).parent}/")
    params = StdioServerParameters(command=command, args=entry["args"], env={**entry["env"], "HOME": str(tmp_path)})
    async with Client(params, mode="legacy") as client:
        tools = await client.list_tools()
    assert len(tools.tools) == 5


@pytest.fixture
def http_server(settings: Settings, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """`kling-mcp --transport streamable-http` on loopback; yields (base URL, the token it is given)."""
    port, token = free_port(), "example-token-4f1c2b9e7d"
    env = subprocess_env(settings, KLING_MCP_AUTH_TOKEN=token)
    command = [sys.executable, "-m", "kling_mcp", "--transport", "streamable-http", "--port", str(port)]
    with (
        (tmp_path / "server.log").open("wb") as log,
        subprocess.Popen(command, env=env, cwd=tmp_path, stdout=log, stderr=log) as proc,
    ):
        try:
            deadline = time.monotonic() + 20
            while True:
                assert proc.poll() is None, (tmp_path / "server.log").read_text()
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    assert time.monotonic() < deadline, "the HTTP server did not start"
                    time.sleep(0.05)
            yield f"http://127.0.0.1:{port}", token
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.mark.slow  # starts the HTTP server
async def test_remote_client_config_connects_with_its_bearer_header(
    http_server: tuple[str, str], sandbox: SandboxServer
) -> None:
    """Use the example as Claude Code / Cursor would: its URL path, its headers with ${VAR} expanded."""
    entry = _server_entry("remote_client_config.json")
    assert entry["type"] == "http"
    base, token = http_server
    url = base + urlsplit(entry["url"]).path
    variables = {"KLING_MCP_AUTH_TOKEN": token}
    headers = {k: re.sub(r"\$\{(\w+)\}", lambda m: variables[m.group(1)], v) for k, v in entry["headers"].items()}
    assert headers == {"Authorization": f"Bearer {token}"}
    async with (
        httpx2.AsyncClient(headers=headers) as http,
        Client(streamable_http_client(url, http_client=http), mode="legacy") as client,
    ):
        tools = await client.list_tools()
        assert {t.name for t in tools.tools} >= {"kling_generate_video_from_image", "kling_get_video_task"}
        result = await client.call_tool(
            "kling_generate_video_from_image", {"prompt": "a remote call", "start_image_url": "https://x.test/a.png"}
        )
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    assert result.structured_content["result"]["status"] == "succeed"
    assert len(sandbox.state.creates()) == 1


def _run_example(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The example as the README shows it: run from the checkout's root."""
    return subprocess.run(
        [sys.executable, str(EXAMPLES / "generate_video.py"), str(EXAMPLE_PNG), "a slow pan across the hills"],
        env={**env, "PYTHONPATH": os.environ.get("PYTHONPATH", "")},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.slow
def test_generate_video_script_prints_the_finished_video_and_leaves_the_checkout_clean(
    settings: Settings, sandbox: SandboxServer, tmp_path: Path
) -> None:
    before = checkout_state()
    done = _run_example(subprocess_env(settings, HOME=str(tmp_path)))
    assert done.returncode == 0, done.stdout + done.stderr
    [task_id] = sandbox.state.tasks
    assert f"video: {sandbox.url}/sandbox/videos/{task_id}.mp4" in done.stdout
    assert "s elapsed" in done.stdout, "the script shows progress"
    saved = tmp_path / "Downloads" / "kling-mcp" / f"kling-{task_id}.mp4"
    assert f"saved: {saved}" in done.stdout
    assert saved.read_bytes()[4:8] == b"ftyp"
    assert checkout_state() == before, "the example wrote into the checkout"


@pytest.mark.slow
def test_without_keys_the_example_keeps_its_sandbox_task_out_of_the_real_journal(
    settings: Settings, tmp_path: Path
) -> None:
    env = subprocess_env(settings, HOME=str(tmp_path), XDG_DATA_HOME=str(tmp_path / "data"), KLING_ACCESS_KEY="")
    del env["KLING_MCP_JOURNAL"]  # the default journals, as on a user's machine
    done = _run_example(env)
    assert done.returncode == 0, done.stdout + done.stderr
    journals = tmp_path / "data" / "kling-mcp"
    assert not (journals / "tasks.sqlite3").exists(), "a sandbox task went into the real journal"
    sandbox_journal = open_journal(journals / "sandbox-tasks.sqlite3")
    try:
        [entry] = sandbox_journal.recent()
    finally:
        sandbox_journal.close()
    assert entry.status == "succeed" and f"video: {entry.videos[0]['url']}" in done.stdout
