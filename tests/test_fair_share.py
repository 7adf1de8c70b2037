"""A fair share per owner (issue 22 item 5): one owner cannot take every call slot. Over real HTTP with two static
tokens (two owners), and in memory with the MCP tasks protocol, whose `tasks/result` waits count too."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from mcp import Client
from pydantic import SecretStr

from kling_mcp.config import Settings
from kling_mcp.http.app import build_http_app
from kling_mcp.http.settings import HttpSettings
from kling_mcp.sandbox.runner import SandboxServer
from kling_mcp.server.build import build_server
from kling_mcp.server.call_gate import CallGate, fair_share
from tests.conftest import FAST_RETRY, text_of
from tests.http_support import OTHER_TOKEN, TOKEN, connect
from tests.names import GENERATE, LIST
from tests.tasks_support import legacy_request
from tests.test_owner_isolation import serve_in_thread

pytestmark = pytest.mark.anyio

HELD: dict[str, Any] = {"prompt": "a cat", "start_image_url": "https://images.example.com/a.png", "timeout": 0.8}


async def test_one_owner_is_refused_past_its_share_while_another_gets_in(
    settings: Settings, sandbox: SandboxServer
) -> None:
    sandbox.state.config.run_seconds = 60.0  # each call waits its whole timeout, holding its slot
    tokens = (SecretStr(TOKEN), SecretStr(OTHER_TOKEN))
    http = HttpSettings(KLING_MCP_MAX_CONCURRENT_CALLS=8, KLING_MCP_MAX_CALLS_PER_OWNER=2)
    built = build_http_app(settings, http, tokens, retry_policy=FAST_RETRY)
    results: dict[str, list[Any]] = {"alice": [], "bob": []}
    with serve_in_thread(built.app) as url:
        async with connect(url, TOKEN) as alice, connect(url, OTHER_TOKEN) as bob:

            async def hold(who: str, client: Client) -> None:
                results[who].append(await client.call_tool(GENERATE, HELD))

            async with anyio.create_task_group() as group:
                group.start_soon(hold, "alice", alice)
                group.start_soon(hold, "alice", alice)
                with anyio.fail_after(5):
                    while len(sandbox.state.creates()) < 2:
                        await anyio.sleep(0.01)
                third = await alice.call_tool(LIST, {})
                group.start_soon(hold, "bob", bob)
    assert third.is_error and "kling-mcp is busy for token:" in text_of(third), text_of(third)
    assert "KLING_MCP_MAX_CALLS_PER_OWNER" in text_of(third) and "nothing was billed" in text_of(third)
    assert [r.is_error for r in results["alice"]] == [False, False]
    assert [r.is_error for r in results["bob"]] == [False], [text_of(r) for r in results["bob"]]
    assert built.gate.settings()["maxConcurrentToolCallsPerOwner"] == 2


async def test_a_tasks_result_wait_holds_one_of_its_owners_slots(settings: Settings, sandbox: SandboxServer) -> None:
    sandbox.state.config.run_seconds = 30.0  # still running while the wait holds the slot
    gate = CallGate(limit=4, per_owner=1)
    server = build_server(settings, retry_policy=FAST_RETRY, extensions=[gate])
    async with Client(server, mode="legacy") as client:
        arguments = {"prompt": "a cat", "start_image_url": "https://images.example.com/a.png"}
        created = await legacy_request(client, "tools/call", {"name": GENERATE, "arguments": arguments, "task": {}})
        task_id = created["task"]["taskId"]
        async with anyio.create_task_group() as group:
            group.start_soon(legacy_request, client, "tasks/result", {"taskId": task_id})
            await anyio.sleep(0.3)
            refused = await client.call_tool(LIST, {})
            await legacy_request(client, "tasks/cancel", {"taskId": task_id})  # ends the wait
        admitted = await client.call_tool(LIST, {})
    assert refused.is_error and "kling-mcp is busy for" in text_of(refused), text_of(refused)
    assert not admitted.is_error


@pytest.mark.parametrize(("limit", "share"), [(64, 16), (8, 2), (3, 1), (1, 1)])
def test_the_default_share_is_a_quarter_of_the_process_cap(limit: int, share: int) -> None:
    assert fair_share(limit) == share
    assert CallGate(limit).per_owner == share


async def test_without_authentication_the_one_owner_gets_every_slot(settings: Settings, sandbox: SandboxServer) -> None:
    """Issue 22: with no sign-in every HTTP caller is the same owner, so the per-owner share (a quarter by default)
    would cap the whole server at a quarter of KLING_MCP_MAX_CONCURRENT_CALLS. By default it does not apply then; an
    explicit KLING_MCP_MAX_CALLS_PER_OWNER still does, and with tokens the quarter stays."""
    sandbox.state.config.run_seconds = 60.0  # the generate call waits its whole timeout, holding its slot
    built = build_http_app(settings, HttpSettings(KLING_MCP_MAX_CONCURRENT_CALLS=4), (), retry_policy=FAST_RETRY)
    with serve_in_thread(built.app) as url:
        async with connect(url, None) as first, connect(url, None) as second, anyio.create_task_group() as group:
            group.start_soon(first.call_tool, GENERATE, HELD)
            with anyio.fail_after(5):
                while not sandbox.state.creates():
                    await anyio.sleep(0.01)
            listed = await second.call_tool(LIST, {})
    assert not listed.is_error, text_of(listed)
    assert built.gate.settings()["maxConcurrentToolCallsPerOwner"] == 4
    explicit = HttpSettings(KLING_MCP_MAX_CONCURRENT_CALLS=4, KLING_MCP_MAX_CALLS_PER_OWNER=1)
    assert build_http_app(settings, explicit, ()).gate.per_owner == 1
    tokens = (SecretStr(TOKEN),)
    assert build_http_app(settings, HttpSettings(KLING_MCP_MAX_CONCURRENT_CALLS=4), tokens).gate.per_owner == 1
