"""SEP-2663 tasks over streamable HTTP: two stateless replicas sharing one journal, and tokens that stay apart.

The client is the Python SDK's `Client` with the tasks client extension written from the SEP (tests/tasks_support):
it declares `io.modelcontextprotocol/tasks`, and its `tasks/*` requests carry the task id in the `Mcp-Name` header.
"""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS

from kling_mcp.config import Settings
from kling_mcp.sandbox.runner import SandboxServer
from tests.http_support import OTHER_TOKEN, TOKEN, connect, run_server
from tests.names import GENERATE, GET
from tests.tasks_support import CancelTask, GetTask, SepTasksClient, TaskIdParams, legacy_request, sep_request

pytestmark = [pytest.mark.slow, pytest.mark.anyio]

ARGS = {"prompt": "a paper boat drifting", "start_image_url": "https://example.com/boat.png"}


async def test_a_task_made_on_one_replica_completes_on_the_other(
    settings: Settings, sandbox: SandboxServer, tmp_path: Path
) -> None:
    sandbox.state.config.run_seconds = 1.5
    tokens = f"{TOKEN},{OTHER_TOKEN}"
    with (
        run_server(settings, tmp_path, "--stateless", KLING_MCP_AUTH_TOKEN=tokens) as replica_a,
        run_server(settings, tmp_path, "--stateless", KLING_MCP_AUTH_TOKEN=tokens) as replica_b,
    ):
        async with connect(replica_a.mcp_url, extensions=[SepTasksClient()]) as client:
            created = (await client.session.call_tool(GENERATE, ARGS, allow_claimed=True)).model_dump(by_alias=True)
        task = TaskIdParams(task_id=created["taskId"])
        async with connect(replica_b.mcp_url, OTHER_TOKEN, extensions=[SepTasksClient()]) as stranger:
            with pytest.raises(MCPError) as hidden:
                await sep_request(stranger, GetTask(params=task))
            with pytest.raises(MCPError) as not_cancelled:
                await sep_request(stranger, CancelTask(params=task))
        async with connect(replica_b.mcp_url, extensions=[SepTasksClient()]) as client:
            polled = [await sep_request(client, GetTask(params=task))]
            while polled[-1]["status"] == "working" and len(polled) < 100:
                await anyio.sleep(polled[-1]["pollIntervalMs"] / 1000)
                polled.append(await sep_request(client, GetTask(params=task)))
    assert created["resultType"] == "task" and created["status"] == "working"
    assert hidden.value.code == INVALID_PARAMS and not_cancelled.value.code == INVALID_PARAMS
    assert polled[-1]["status"] == "completed"
    assert polled[-1]["result"]["structuredContent"]["result"]["status"] == "succeed"
    assert len(sandbox.state.creates()) == 1


async def test_a_2025_task_wait_on_another_owners_task_is_refused_without_asking_kling(
    settings: Settings, sandbox: SandboxServer, tmp_path: Path
) -> None:
    sandbox.state.config.run_seconds = 60  # still running: a wait on it would query Kling at once
    with run_server(settings, tmp_path, KLING_MCP_AUTH_TOKEN=f"{TOKEN},{OTHER_TOKEN}") as server:
        async with connect(server.mcp_url) as owner:
            plain = await owner.call_tool(GENERATE, {**ARGS, "timeout": 0.01})
        assert plain.structured_content is not None
        kling_id = plain.structured_content["result"]["task_id"]
        queries_before = sum(1 for r in sandbox.state.requests if r.method == "GET")
        wait = {"name": GET, "arguments": {"task_id": kling_id, "wait_seconds": 600}, "task": {}}
        async with connect(server.mcp_url, OTHER_TOKEN, mode="legacy") as stranger:
            with pytest.raises(MCPError) as refused:
                await legacy_request(stranger, "tools/call", wait)
        queries_after = sum(1 for r in sandbox.state.requests if r.method == "GET")
    assert refused.value.code == INVALID_PARAMS and f"No task with id '{kling_id}'" in refused.value.message
    assert queries_after == queries_before, "another owner's task id must not cost a Kling query"
    assert len(sandbox.state.creates()) == 1
