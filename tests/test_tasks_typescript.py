"""A tasks client nobody here wrote: the TypeScript SDK's experimental tasks API (MCP 2025-11-25 tasks).

`tests/ts/tasks_client.mjs` drives `python -m kling_mcp` (over stdio, and over streamable HTTP) with
`@modelcontextprotocol/sdk`'s `client.experimental.tasks`: a task-augmented call streamed to its result, status
polls, listing, cancellation, a failed task, a server restarted between create and result, and two replicas sharing
one journal. The SDK is installed from npm (pinned) into `~/.cache/kling-mcp-ts-sdk` (or `KLING_MCP_TS_SDK_DIR`).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from kling_mcp.config import Settings
from kling_mcp.sandbox.runner import SandboxServer
from tests.conftest import EXAMPLE_PNG, subprocess_env
from tests.http_support import OTHER_TOKEN, TOKEN, run_server
from tests.npm_support import TS_SDK, node_major

pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).resolve().parent / "ts" / "tasks_client.mjs"
ARGS = {"prompt": "a paper boat drifting", "start_image_url": str(EXAMPLE_PNG)}
URL_ARGS = {"prompt": "a paper boat drifting", "start_image_url": "https://example.com/boat.png"}


@pytest.fixture(scope="session")
def ts_client() -> Path:
    """The driver script, placed beside an installed TypeScript SDK so Node resolves the package."""
    if node_major() < 18:
        pytest.skip(f"{TS_SDK.name} {TS_SDK.version} needs Node >= 18")
    prefix = TS_SDK.install()
    script = prefix / SCRIPT.name
    shutil.copyfile(SCRIPT, script)
    return script


def run_ts(script: Path, **config: Any) -> dict[str, Any]:
    """Run one scenario of the driver; returns what the TypeScript client saw."""
    done = subprocess.run(
        ["node", str(script), json.dumps(config)], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, f"node failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    output: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return output


def stdio(settings: Settings) -> dict[str, Any]:
    return {
        "transport": "stdio",
        "command": sys.executable,
        "args": ["-m", "kling_mcp"],
        "env": subprocess_env(settings),
        "arguments": ARGS,
    }


def http(url: str, token: str = TOKEN) -> dict[str, Any]:
    return {"transport": "http", "url": url, "token": token, "arguments": URL_ARGS}


def check_flow(seen: dict[str, Any]) -> str:
    """The streamed task ran to the same result a normal call gives; returns its task id."""
    tools = {tool["name"]: tool for tool in seen["tools"]}
    assert tools["kling_generate_video_from_image"]["execution"] == {"taskSupport": "optional"}
    assert seen["capabilities"]["tasks"]["requests"]["tools"]["call"] == {}
    kinds = [message["type"] for message in seen["seen"]]
    assert kinds[0] == "taskCreated" and kinds[-1] == "result" and "taskStatus" in kinds, kinds
    statuses = [m["task"]["status"] for m in seen["seen"] if m["type"] == "taskStatus"]
    assert statuses[-1] == "completed" and set(statuses) <= {"working", "completed"}
    result = seen["seen"][-1]["result"]
    assert result["structuredContent"] == seen["normal"]["structuredContent"]
    assert result["structuredContent"]["result"]["status"] == "succeed"
    task_id: str = seen["seen"][0]["task"]["taskId"]
    assert task_id in [task["taskId"] for task in seen["listed"]["tasks"]]
    return task_id


def check_failed(seen: dict[str, Any], reason: str) -> None:
    assert seen["seen"][-1]["type"] == "error"  # how the SDK's stream reports a failed task
    assert seen["task"]["status"] == "failed" and reason in seen["task"]["statusMessage"]
    assert seen["result"]["isError"] is True and reason in seen["result"]["content"][0]["text"]


def check_cancel(seen: dict[str, Any]) -> None:
    assert seen["cancelled"]["status"] == "cancelled" and "billed" in seen["cancelled"]["statusMessage"]
    assert seen["task"]["status"] == "cancelled"
    assert seen["again"]["code"] == -32602  # a terminal task cannot be cancelled again


def test_typescript_tasks_client_over_stdio(ts_client: Path, settings: Settings, sandbox: SandboxServer) -> None:
    sandbox.state.config.run_seconds = 1.0
    check_flow(run_ts(ts_client, **stdio(settings), scenario="flow"))
    sandbox.state.inject(fail_tasks=1)
    check_failed(run_ts(ts_client, **stdio(settings), scenario="failed"), sandbox.state.faults.fail_message)
    sandbox.state.config.run_seconds = 30
    check_cancel(run_ts(ts_client, **stdio(settings), scenario="cancel"))
    assert len(sandbox.state.creates()) == 3


def test_typescript_tasks_client_over_http(
    ts_client: Path, settings: Settings, sandbox: SandboxServer, tmp_path: Path
) -> None:
    sandbox.state.config.run_seconds = 1.0
    with run_server(settings, tmp_path, KLING_MCP_AUTH_TOKEN=TOKEN) as server:
        check_flow(run_ts(ts_client, **http(server.mcp_url), scenario="flow"))
        sandbox.state.inject(fail_tasks=1)
        check_failed(run_ts(ts_client, **http(server.mcp_url), scenario="failed"), sandbox.state.faults.fail_message)
        sandbox.state.config.run_seconds = 30
        check_cancel(run_ts(ts_client, **http(server.mcp_url), scenario="cancel"))
    assert len(sandbox.state.creates()) == 3


def test_a_task_survives_a_server_restart(ts_client: Path, settings: Settings, sandbox: SandboxServer) -> None:
    sandbox.state.config.run_seconds = 2.0
    created = run_ts(ts_client, **stdio(settings), scenario="create")["created"]  # that server process then exits
    resumed = run_ts(ts_client, **stdio(settings), scenario="resume", taskId=created["taskId"])
    assert created["status"] == "working"
    assert resumed["task"]["status"] in ("working", "completed")
    assert resumed["result"]["structuredContent"]["result"]["status"] == "succeed"
    assert resumed["final"]["status"] == "completed"
    assert len(sandbox.state.creates()) == 1


def test_two_replicas_share_tasks_and_tokens_see_only_their_own(
    ts_client: Path, settings: Settings, sandbox: SandboxServer, tmp_path: Path
) -> None:
    sandbox.state.config.run_seconds = 2.0
    tokens = f"{TOKEN},{OTHER_TOKEN}"
    with (
        run_server(settings, tmp_path, "--stateless", KLING_MCP_AUTH_TOKEN=tokens) as replica_a,
        run_server(settings, tmp_path, "--stateless", KLING_MCP_AUTH_TOKEN=tokens) as replica_b,
    ):
        created = run_ts(ts_client, **http(replica_a.mcp_url), scenario="create")["created"]
        stranger = run_ts(
            ts_client, **http(replica_b.mcp_url, OTHER_TOKEN), scenario="lookup", taskId=created["taskId"]
        )
        resumed = run_ts(ts_client, **http(replica_b.mcp_url), scenario="resume", taskId=created["taskId"])
    assert stranger["error"]["code"] == -32602  # another token's task is reported as not found
    assert resumed["result"]["structuredContent"]["result"]["status"] == "succeed"
    assert resumed["final"]["status"] == "completed"
    assert len(sandbox.state.creates()) == 1
