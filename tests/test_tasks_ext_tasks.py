"""The SEP-2663 tasks client library: `@modelcontextprotocol/ext-tasks` 0.2.2 on `@modelcontextprotocol/client` 2.4.

`tests/ts/ext_tasks_client.mjs` calls the paid tool through ext-tasks' `createTaskSessionFromClient` over streamable
HTTP, in both eras: on the 2026-07-28 protocol (the `io.modelcontextprotocol/tasks` extension) with the small raw
dispatcher ext-tasks asks a host to supply for that era, and on 2025-11-25 (the legacy tasks form) without one. Both
packages are installed from npm (pinned) into `~/.cache/kling-mcp-ext-tasks` (or `KLING_MCP_EXT_TASKS_DIR`).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from kling_mcp.config import Settings
from kling_mcp.sandbox.runner import SandboxServer
from tests.http_support import TOKEN, run_server
from tests.npm_support import EXT_TASKS, TS_CLIENT, node_major

pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).resolve().parent / "ts" / "ext_tasks_client.mjs"
ARGS = {"prompt": "a paper boat drifting", "start_image_url": "https://example.com/boat.png"}


@pytest.fixture(scope="session")
def ext_tasks_client() -> Path:
    """The driver script, placed beside the installed packages so Node resolves them."""
    if node_major() < 20:
        pytest.skip(f"{TS_CLIENT.name} {TS_CLIENT.version} needs Node >= 20")
    TS_CLIENT.install()
    prefix = EXT_TASKS.install()
    script = prefix / SCRIPT.name
    shutil.copyfile(SCRIPT, script)
    return script


def run_ext_tasks(script: Path, url: str, era: str, scenario: str) -> dict[str, Any]:
    """Run one scenario of the driver; returns what the client saw."""
    config = {"url": url, "token": TOKEN, "era": era, "scenario": scenario, "arguments": ARGS}
    done = subprocess.run(
        ["node", str(script), json.dumps(config)], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, f"node failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    seen: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return seen


def test_ext_tasks_runs_a_paid_call_as_a_task_in_both_eras(
    ext_tasks_client: Path, settings: Settings, sandbox: SandboxServer, tmp_path: Path
) -> None:
    sandbox.state.config.run_seconds = 1.0
    with run_server(settings, tmp_path, KLING_MCP_AUTH_TOKEN=TOKEN) as server:
        for era in ("modern", "legacy"):
            seen = run_ext_tasks(ext_tasks_client, server.mcp_url, era, "flow")
            assert seen["kind"] == "task" and seen["taskId"], (era, seen)
            assert seen["status"] == "completed", (era, seen)
            assert seen["result"]["structuredContent"]["result"]["status"] == "succeed", (era, seen)
    assert len(sandbox.state.creates()) == 2


def test_ext_tasks_sees_a_failed_kling_task_and_a_cancelled_wait(
    ext_tasks_client: Path, settings: Settings, sandbox: SandboxServer, tmp_path: Path
) -> None:
    sandbox.state.config.run_seconds = 1.0
    reason = sandbox.state.faults.fail_message
    with run_server(settings, tmp_path, KLING_MCP_AUTH_TOKEN=TOKEN) as server:
        sandbox.state.inject(fail_tasks=1)
        modern = run_ext_tasks(ext_tasks_client, server.mcp_url, "modern", "flow")
        # SEP-2663: a tool result with isError is a completed task; 2025-11-25 calls that task failed.
        assert modern["status"] == "completed" and modern["result"]["isError"] is True, modern
        assert reason in modern["result"]["content"][0]["text"] and reason in modern["statusMessage"]
        sandbox.state.inject(fail_tasks=1)
        legacy = run_ext_tasks(ext_tasks_client, server.mcp_url, "legacy", "flow")
        assert legacy["status"] == "failed" and reason in legacy["error"], legacy
        sandbox.state.config.run_seconds = 30
        for era in ("modern", "legacy"):
            cancelled = run_ext_tasks(ext_tasks_client, server.mcp_url, era, "cancel")
            assert cancelled["status"] == "cancelled", (era, cancelled)
            assert cancelled["server"]["status"] == "cancelled", (era, cancelled)
            assert "billed" in cancelled["server"]["statusMessage"], (era, cancelled)
    assert len(sandbox.state.creates()) == 4
