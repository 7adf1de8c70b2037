"""The MCP tasks protocol through real clients against the real server, in both wire forms.

2025-11-25 (core, experimental): task-augmented `tools/call`, `tasks/get|result|list|cancel`.
2026-07-28 (SEP-2663 extension): the server answers `resultType: "task"` to a client that declared the extension,
then `tasks/get|update|cancel`. The sandbox is the fake Kling; the journal file is the task's only state.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS, METHOD_NOT_FOUND
from pydantic import SecretStr

from kling_mcp.config import Settings
from kling_mcp.http.security import StaticTokenVerifier
from kling_mcp.sandbox.runner import SandboxServer
from kling_mcp.server.build import build_server
from kling_mcp.server.tasks.wire import owner_of_request
from tests.conftest import EXAMPLE_PNG, FAST_RETRY, journal_entry, make_settings, text_of
from tests.names import GENERATE, GET, LIST, TEXT
from tests.tasks_support import (
    EXTENSION_ID,
    CancelTask,
    GetTask,
    SepTasksClient,
    TaskIdParams,
    UpdateParams,
    UpdateTask,
    legacy_request,
    sep_request,
)

pytestmark = pytest.mark.anyio

ARGS = {"prompt": "a paper boat drifting", "start_image_url": str(EXAMPLE_PNG)}
THIRTY_DAYS_MS = 30 * 24 * 3600 * 1000


def _server(settings: Settings) -> Any:
    return build_server(settings, retry_policy=FAST_RETRY)


async def _legacy_create(client: Client, name: str = GENERATE, **task: Any) -> dict[str, Any]:
    params = {"name": name, "arguments": ARGS if name == GENERATE else task.pop("arguments"), "task": task}
    return await legacy_request(client, "tools/call", params)


async def _gets_of(sandbox: SandboxServer, task_id: str) -> int:
    return sum(1 for r in sandbox.state.requests if r.method == "GET" and r.path.endswith(task_id))


async def test_2025_server_declares_tasks_for_the_two_long_tools(settings: Settings) -> None:
    async with Client(_server(settings), mode="legacy") as client:
        tasks = client.server_capabilities.tasks
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert tasks is not None and tasks.requests is not None and tasks.requests.tools is not None
    assert tasks.requests.tools.call is not None and tasks.cancel is not None and tasks.list is not None
    for name in (GENERATE, GET):
        execution = tools[name].execution
        assert execution is not None and execution.task_support == "optional", name
    assert tools[LIST].execution is None


async def test_2026_server_advertises_the_extension_not_the_legacy_capability(settings: Settings) -> None:
    async with Client(_server(settings), mode="auto") as client:
        capabilities = client.server_capabilities
        tools = (await client.list_tools()).tools
    assert capabilities.extensions is not None and EXTENSION_ID in capabilities.extensions
    assert capabilities.tasks is None
    assert all(tool.execution is None for tool in tools)


async def test_2025_task_ends_with_exactly_the_normal_calls_result(settings: Settings, sandbox: SandboxServer) -> None:
    async with Client(_server(settings), mode="legacy") as client:
        created = await _legacy_create(client, ttl=60_000)
        task = created["task"]
        polled = await legacy_request(client, "tasks/get", {"taskId": task["taskId"]})
        result = await legacy_request(client, "tasks/result", {"taskId": task["taskId"]})
        after = await legacy_request(client, "tasks/get", {"taskId": task["taskId"]})
        listed = await legacy_request(client, "tasks/list", {})
        normal = await client.call_tool(GET, {"task_id": task["taskId"]})
    assert task["status"] == "working" and task["ttl"] == 60_000 and task["pollInterval"] > 0
    assert task["createdAt"].endswith("Z") and task["lastUpdatedAt"].endswith("Z")
    assert "do not generate" in created["_meta"]["io.modelcontextprotocol/model-immediate-response"]
    assert task["taskId"].startswith("kmcp-")  # our external_task_id: every tool accepts it
    assert polled["status"] in ("working", "completed")
    assert result["_meta"]["io.modelcontextprotocol/related-task"] == {"taskId": task["taskId"]}
    assert result["isError"] is False
    assert result["structuredContent"] == normal.structured_content
    assert result["structuredContent"]["result"]["status"] == "succeed"
    assert after["status"] == "completed" and "pollInterval" not in after
    assert [t["taskId"] for t in listed["tasks"]] == [task["taskId"]]
    assert len(sandbox.state.creates()) == 1  # one paid task, however often it is read


async def test_2025_failed_kling_task_is_a_failed_task_with_klings_reason(
    settings: Settings, sandbox: SandboxServer
) -> None:
    sandbox.state.inject(fail_tasks=1)
    async with Client(_server(settings), mode="legacy") as client:
        task = (await _legacy_create(client))["task"]
        result = await legacy_request(client, "tasks/result", {"taskId": task["taskId"]})
        status = await legacy_request(client, "tasks/get", {"taskId": task["taskId"]})
        normal = await client.call_tool(GET, {"task_id": task["taskId"]})
    reason = sandbox.state.faults.fail_message
    assert status["status"] == "failed" and reason in status["statusMessage"]
    assert result["isError"] is True and normal.is_error
    assert result["content"][0]["text"] == text_of(normal) and reason in text_of(normal)


async def test_2025_cancel_stops_the_wait_and_says_kling_still_bills(
    settings: Settings, sandbox: SandboxServer
) -> None:
    sandbox.state.config.run_seconds = 30  # still running when cancelled
    async with Client(_server(settings), mode="legacy") as client:
        task = (await _legacy_create(client))["task"]
        waiting: dict[str, Any] = {}

        async def wait_for_result() -> None:
            waiting["result"] = await legacy_request(client, "tasks/result", {"taskId": task["taskId"]})

        async with anyio.create_task_group() as group:
            group.start_soon(wait_for_result)
            await anyio.sleep(0.3)
            cancelled = await legacy_request(client, "tasks/cancel", {"taskId": task["taskId"]})
        status = await legacy_request(client, "tasks/get", {"taskId": task["taskId"]})
        with pytest.raises(MCPError) as again:
            await legacy_request(client, "tasks/cancel", {"taskId": task["taskId"]})
    assert cancelled["status"] == "cancelled" and "billed" in cancelled["statusMessage"]
    assert status["status"] == "cancelled"
    assert again.value.code == INVALID_PARAMS and "terminal" in again.value.message
    assert waiting["result"]["isError"] is True and "billed" in waiting["result"]["content"][0]["text"]
    entry = journal_entry(settings, task["taskId"])
    assert entry is not None and entry.task_id is not None  # the Kling task stays in the journal


async def test_2025_task_form_of_a_tool_without_task_support_is_method_not_found(settings: Settings) -> None:
    async with Client(_server(settings), mode="legacy") as client:
        with pytest.raises(MCPError) as refused:
            await legacy_request(client, "tools/call", {"name": LIST, "arguments": {}, "task": {}})
    assert refused.value.code == METHOD_NOT_FOUND


async def test_2025_bad_input_in_task_form_is_an_error_naming_the_field_and_sends_nothing(
    settings: Settings, sandbox: SandboxServer
) -> None:
    async with Client(_server(settings), mode="legacy") as client:
        with pytest.raises(MCPError) as refused:
            params = {"name": GENERATE, "arguments": {**ARGS, "duration": 7}, "task": {}}
            await legacy_request(client, "tools/call", params)
        with pytest.raises(MCPError) as unknown:
            await legacy_request(client, "tasks/get", {"taskId": "kmcp-nope"})
    assert refused.value.code == INVALID_PARAMS and "duration" in refused.value.message
    assert unknown.value.code == INVALID_PARAMS and "not found" in unknown.value.message
    assert sandbox.state.creates() == []


async def test_2025_a_refused_text_task_names_the_text_tool(settings: Settings, sandbox: SandboxServer) -> None:
    # The task form starts through the tool's own handler: its error words the next step with the tool that was called.
    sandbox.state.inject(create_error=1, create_error_code=1201)  # Kling refuses: no task, calling again is safe
    async with Client(_server(settings), mode="legacy") as client:
        with pytest.raises(MCPError) as refused:
            await _legacy_create(client, TEXT, arguments={"prompt": "a slow sunrise"})
    assert refused.value.code == INVALID_PARAMS
    assert f"calling {TEXT} again is safe" in refused.value.message, refused.value.message
    assert GENERATE not in refused.value.message


async def test_2025_get_in_task_form_is_validated_by_the_tools_own_model(
    settings: Settings, sandbox: SandboxServer
) -> None:
    async with Client(_server(settings), mode="legacy") as client:
        plain = await client.call_tool(GENERATE, {**ARGS, "timeout": 0.01})
        assert plain.structured_content is not None
        kling_id = plain.structured_content["result"]["task_id"]
        with pytest.raises(MCPError) as refused:  # the tool allows at most 3600 s: no task handle for more
            await _legacy_create(client, GET, arguments={"task_id": kling_id, "wait_seconds": 5000})
        listed = await legacy_request(client, "tasks/list", {})
    assert refused.value.code == INVALID_PARAMS and "wait_seconds" in refused.value.message, refused.value.message
    assert listed["tasks"] == []
    assert len(sandbox.state.creates()) == 1


async def test_2025_waiting_on_an_existing_task_as_a_task(settings: Settings, sandbox: SandboxServer) -> None:
    async with Client(_server(settings), mode="legacy") as client:
        plain = await client.call_tool(GENERATE, {**ARGS, "timeout": 0.01})
        assert plain.structured_content is not None
        kling_id = plain.structured_content["result"]["task_id"]
        task = (await _legacy_create(client, GET, arguments={"task_id": kling_id, "wait_seconds": 600}))["task"]
        result = await legacy_request(client, "tasks/result", {"taskId": task["taskId"]})
    assert task["taskId"].startswith(plain.structured_content["result"]["external_task_id"])
    assert result["structuredContent"]["result"]["status"] == "succeed"
    assert len(sandbox.state.creates()) == 1


async def test_tasks_get_never_polls_kling_faster_than_the_schedule(sandbox: SandboxServer, tmp_path: Path) -> None:
    sandbox.state.config.run_seconds = 30
    settings = make_settings(sandbox, tmp_path, KLING_MCP_POLL_MIN_INTERVAL=2, KLING_MCP_POLL_MAX_INTERVAL=10)
    async with Client(_server(settings), mode="legacy") as client:
        task = (await _legacy_create(client))["task"]
        kling_id = next(iter(sandbox.state.tasks)) if sandbox.state.creates() else None
        answers = [await legacy_request(client, "tasks/get", {"taskId": task["taskId"]}) for _ in range(25)]
    assert all(a["status"] == "working" and a["pollInterval"] >= 2000 for a in answers)
    assert await _gets_of(sandbox, str(kling_id)) <= 1  # 25 polls within one 2 s gap: at most one Kling query


async def test_2026_client_with_the_extension_gets_the_normal_result(
    settings: Settings, sandbox: SandboxServer
) -> None:
    tasks_client = SepTasksClient()
    async with Client(_server(settings), mode="auto", extensions=[tasks_client]) as client:
        final = await client.call_tool(GENERATE, ARGS)
        created = tasks_client.seen[0]
        normal = await client.call_tool(GET, {"task_id": created["taskId"]})
    assert created["resultType"] == "task" and created["status"] == "working"
    assert created["ttlMs"] == THIRTY_DAYS_MS and created["pollIntervalMs"] > 0
    assert tasks_client.seen[-1]["status"] == "completed" and tasks_client.seen[-1]["resultType"] == "complete"
    assert not final.is_error and final.structured_content == normal.structured_content
    assert final.structured_content is not None and final.structured_content["result"]["status"] == "succeed"
    assert len(sandbox.state.creates()) == 1


async def test_2026_text_to_video_runs_as_a_task_validated_by_its_own_model(
    settings: Settings, sandbox: SandboxServer
) -> None:
    # Arguments the image tool's model would refuse (no image): validated with the text tool's model, they make a task.
    tasks_client = SepTasksClient()
    async with Client(_server(settings), mode="auto", extensions=[tasks_client]) as client:
        final = await client.call_tool(TEXT, {"prompt": "a paper boat drifting", "aspect_ratio": "9:16"})
    assert tasks_client.seen and tasks_client.seen[0]["resultType"] == "task"
    assert not final.is_error, text_of(final)
    assert [create.path for create in sandbox.state.creates()] == ["/v1/videos/text2video"]


async def test_2026_failed_kling_task_completes_with_the_tool_error(settings: Settings, sandbox: SandboxServer) -> None:
    sandbox.state.inject(fail_tasks=1)
    tasks_client = SepTasksClient()
    async with Client(_server(settings), mode="auto", extensions=[tasks_client]) as client:
        final = await client.call_tool(GENERATE, ARGS)
    reason = sandbox.state.faults.fail_message
    # SEP-2663 keeps `failed` for JSON-RPC errors: a tool error is a completed task whose result says so.
    assert tasks_client.seen[-1]["status"] == "completed" and reason in tasks_client.seen[-1]["statusMessage"]
    assert final.is_error and reason in text_of(final)


async def test_2026_cancel_and_update_are_acknowledged(settings: Settings, sandbox: SandboxServer) -> None:
    sandbox.state.config.run_seconds = 30
    async with Client(_server(settings), mode="auto", extensions=[SepTasksClient()]) as client:
        created = await client.session.call_tool(GENERATE, ARGS, allow_claimed=True)
        task_id = created.model_dump(by_alias=True)["taskId"]
        updated = await sep_request(client, UpdateTask(params=UpdateParams(task_id=task_id)))
        cancelled = await sep_request(client, CancelTask(params=TaskIdParams(task_id=task_id)))
        status = await sep_request(client, GetTask(params=TaskIdParams(task_id=task_id)))
        with pytest.raises(MCPError) as unknown:
            await sep_request(client, GetTask(params=TaskIdParams(task_id="kmcp-nope")))
    assert updated["resultType"] == "complete" and cancelled["resultType"] == "complete"
    assert status["status"] == "cancelled" and "billed" in status["statusMessage"]
    assert unknown.value.code == INVALID_PARAMS
    assert len(sandbox.state.creates()) == 1


async def test_clients_without_task_support_see_no_change(settings: Settings) -> None:
    for mode in ("auto", "legacy"):
        async with Client(_server(settings), mode=mode) as client:
            result = await client.call_tool(GENERATE, ARGS)
        assert not result.is_error and result.structured_content is not None
        assert result.structured_content["result"]["status"] == "succeed"


async def test_a_task_outlives_the_server_that_created_it(settings: Settings, sandbox: SandboxServer) -> None:
    sandbox.state.config.run_seconds = 0.3
    async with Client(_server(settings), mode="legacy") as client:
        task = (await _legacy_create(client))["task"]
    async with Client(_server(settings), mode="legacy") as client:  # a new server on the same journal
        status = await legacy_request(client, "tasks/get", {"taskId": task["taskId"]})
        result = await legacy_request(client, "tasks/result", {"taskId": task["taskId"]})
    assert status["status"] in ("working", "completed")
    assert result["structuredContent"]["result"]["status"] == "succeed"
    assert len(sandbox.state.creates()) == 1


async def test_a_static_tokens_tasks_stay_its_own_when_the_token_list_changes() -> None:
    """Ownership follows the token, not its place in KLING_MCP_AUTH_TOKEN: reordering must not hand tasks over."""
    first, second = SecretStr("token-aaaaaaaaaaaaaaaa"), SecretStr("token-bbbbbbbbbbbbbbbb")
    owners = []
    for tokens in ((first, second), (second, first), (second,)):
        verifier = StaticTokenVerifier(tokens)
        for raw in (first, second):
            access = await verifier.verify_token(raw.get_secret_value())
            if access is not None:  # an HTTP request as the SDK's auth middleware leaves it
                request = SimpleNamespace(scope={"user": AuthenticatedUser(access)})
                owners.append((raw, owner_of_request(request)))
    first_owners = {owner for raw, owner in owners if raw is first}
    second_owners = {owner for raw, owner in owners if raw is second}
    assert len(first_owners) == 1 and len(second_owners) == 1 and first_owners != second_owners
    assert all(raw.get_secret_value() not in owner for raw, owner in owners)


async def test_a_status_the_journal_cannot_record_yet_is_kept_and_tasks_get_still_answers(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    sandbox.state.config.run_seconds = 30
    settings = make_settings(sandbox, tmp_path, KLING_MCP_JOURNAL_WAIT=0.2)
    async with Client(_server(settings), mode="legacy") as client:
        task = (await _legacy_create(client))["task"]
    for kling_task in sandbox.state.tasks.values():
        kling_task.finished_at = 0.0  # done at Kling; the journal still says it runs
    blocker = sqlite3.connect(str(settings.journal), isolation_level=None)  # another writer holds the write lock
    blocker.execute("BEGIN IMMEDIATE")
    try:
        async with Client(_server(settings), mode="legacy") as client:
            locked = await legacy_request(client, "tasks/get", {"taskId": task["taskId"]})
            blocker.execute("COMMIT")
            await anyio.sleep(0.3)  # the kept write lands (the next write, or the background retry)
            status = await legacy_request(client, "tasks/get", {"taskId": task["taskId"]})
    finally:
        blocker.close()
    assert locked["status"] == "working"  # the journal's last word, not an error
    assert status["status"] == "completed"
    entry = journal_entry(settings, task["taskId"])
    assert entry is not None and entry.status == "succeed"
