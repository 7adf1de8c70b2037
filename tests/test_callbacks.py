"""Kling's callbacks over real HTTP: the sandbox calls back a real server subprocess (or two sharing PostgreSQL)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import anyio
import httpx
import pytest
from pydantic import SecretStr

from kling_mcp.config import Settings
from kling_mcp.sandbox.runner import SandboxServer
from kling_mcp.service.callbacks.addresses import CallbackAddress
from tests.callback_support import CALLBACK_SECRET, status_queries, user_webhook
from tests.conftest import text_of
from tests.http_support import TOKEN, HttpServer, connect, free_port, run_server
from tests.names import GENERATE
from tests.tasks_support import legacy_request

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

ARGS = {"prompt": "a kite", "start_image_url": "https://example.com/a.png"}
# Polling so sparse that a call finishing within seconds was woken by a callback, not found by a poll.
SPARSE = {
    "KLING_MCP_CALLBACK_SAFETY_POLL": "60",
    "KLING_MCP_AUTH_TOKEN": TOKEN,
    "KLING_MCP_CALLBACK_SECRET": CALLBACK_SECRET,
}


def _address(server: HttpServer) -> CallbackAddress:
    """The callback addresses of a server whose public URL is its own address."""
    return CallbackAddress(server.base_url, SecretStr(CALLBACK_SECRET))


@pytest.fixture
def replica(settings: Settings, tmp_path: Path, shared_journal: str) -> Iterator[HttpServer]:
    """One server whose public URL is its own address, with sparse safety-net polling."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**SPARSE, "KLING_MCP_JOURNAL": shared_journal, "KLING_MCP_PUBLIC_URL": url}
    with run_server(settings, tmp_path, "--stateless", port=port, **env) as server:
        yield server


async def _generate(server: HttpServer, **extra: object) -> tuple[dict[str, object], float]:
    started = time.monotonic()
    async with connect(server.mcp_url) as client:
        result = await client.call_tool(GENERATE, {**ARGS, "timeout": 30, **extra})
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    return result.structured_content["result"], time.monotonic() - started


async def test_a_callback_wakes_the_waiting_call_with_one_confirming_query(
    sandbox: SandboxServer, replica: HttpServer
) -> None:
    sandbox.state.config.run_seconds = 1.0
    sandbox.state.inject(callback_duplicate=3, callback_forged=3)
    result, waited = await _generate(replica)
    assert result["status"] == "succeed"
    assert waited < 10, "woken by the callback, not by the 60 s safety net"
    task_id = str(result["task_id"])
    assert status_queries(sandbox, task_id) == 1  # the confirming query; duplicates do not add any
    forged = [c for c in sandbox.state.callbacks if c.forged]
    assert forged and all(c.http_status == 404 for c in forged)
    assert "forged.example" not in str(result["videos"])  # the result is Kling's answer, never a callback body
    assert _address(replica).token(str(sandbox.state.tasks[task_id].external_task_id)) not in replica.stderr()


async def test_a_lost_callback_is_caught_by_the_safety_net(
    settings: Settings, sandbox: SandboxServer, tmp_path: Path
) -> None:
    sandbox.state.config.run_seconds = 0.5
    sandbox.state.inject(callback_lost=10)
    port = free_port()
    env = {**SPARSE, "KLING_MCP_CALLBACK_SAFETY_POLL": "1", "KLING_MCP_PUBLIC_URL": f"http://127.0.0.1:{port}"}
    with run_server(settings, tmp_path, "--stateless", port=port, **env) as server:
        result, _ = await _generate(server)
    assert result["status"] == "succeed"
    assert not [c for c in sandbox.state.callbacks if not c.forged]  # none arrived: polling found it


async def test_a_late_callback_still_finishes_the_call(sandbox: SandboxServer, replica: HttpServer) -> None:
    sandbox.state.config.run_seconds = 0.5
    sandbox.state.inject(callback_late=10, callback_late_seconds=1.5)
    result, waited = await _generate(replica)
    assert result["status"] == "succeed"
    assert 1.5 < waited < 10


async def test_a_wrong_token_is_404_and_changes_nothing(sandbox: SandboxServer, replica: HttpServer) -> None:
    sandbox.state.config.run_seconds = 0.3
    result, _ = await _generate(replica)
    external = str(result["external_task_id"])
    forged = {"task_id": result["task_id"], "task_status": "failed", "task_status_msg": "forged"}
    right = _address(replica).url_for(external)
    borrowed = _address(replica).url_for("kmcp-other").replace("kmcp-other", external)  # another task's token
    async with httpx.AsyncClient() as http:
        wrong = await http.post(right[:-1] + ("1" if right.endswith("0") else "0"), json=forged)
        other_task = await http.post(borrowed, json=forged)
        big = await http.post(right, content=b"x" * 200_000)
        not_a_task = await http.post(right, json={"hello": 1})
        async with connect(replica.mcp_url) as client:
            got = await client.call_tool("kling_get_video_task", {"task_id": external})
    assert (wrong.status_code, other_task.status_code, big.status_code) == (404, 404, 413)
    assert not_a_task.status_code == 400
    assert got.structured_content is not None and got.structured_content["result"]["status"] == "succeed"


async def test_the_users_own_callback_url_hears_every_status(
    settings: Settings, sandbox: SandboxServer, tmp_path: Path
) -> None:
    sandbox.state.config.run_seconds = 0.5
    port = free_port()
    # The hook is on loopback, which a deployment refuses to relay to unless told otherwise. DEBUG shows httpx's
    # request lines, which carry a request's full URL.
    env = {**SPARSE, "KLING_MCP_PUBLIC_URL": f"http://127.0.0.1:{port}", "KLING_MCP_RELAY_TO_PRIVATE_ADDRESSES": "1"}
    env["KLING_MCP_LOG_LEVEL"] = "DEBUG"
    with user_webhook() as hook, run_server(settings, tmp_path, "--stateless", port=port, **env) as replica:
        result, _ = await _generate(replica, callback_url=hook.url)
        _wait_for(lambda: any(b["task_status"] == "succeed" for b in hook.bodies), seconds=10)
        stderr = replica.stderr()
    # Each status as Kling confirmed it when its callback came, in order, once (one may have passed already).
    statuses = [b["task_status"] for b in hook.bodies]
    assert statuses in (["submitted", "processing", "succeed"], ["processing", "succeed"], ["submitted", "succeed"])
    assert all(b["task_id"] == result["task_id"] and "code" not in b for b in hook.bodies)  # bare task objects
    assert "users-own" not in stderr and "/hooks/kling" not in stderr  # not the user's URL, not even at DEBUG
    assert "HTTP Request: POST http://127.0.0.1 " in stderr  # the relay's request lines, by host only


async def test_a_callback_url_into_the_servers_own_network_is_refused_before_anything_is_sent(
    sandbox: SandboxServer, replica: HttpServer
) -> None:
    with user_webhook() as hook:
        async with connect(replica.mcp_url) as client:
            result = await client.call_tool(GENERATE, {**ARGS, "timeout": 30, "callback_url": hook.url})
    assert result.is_error
    assert "callback_url: 127.0.0.1 is not a public internet address" in text_of(result), text_of(result)
    assert "KLING_MCP_RELAY_TO_PRIVATE_ADDRESSES" in text_of(result)
    assert sandbox.state.creates() == [] and hook.bodies == []


async def test_a_callback_on_replica_b_wakes_a_call_waiting_on_replica_a(
    settings: Settings, sandbox: SandboxServer, tmp_path: Path, pg_url: str
) -> None:
    """Both replicas sit behind one public address; here Kling's callbacks all reach B."""
    sandbox.state.config.run_seconds = 1.0
    port_b = free_port()
    env = {**SPARSE, "KLING_MCP_JOURNAL": pg_url, "KLING_MCP_PUBLIC_URL": f"http://127.0.0.1:{port_b}"}
    with (
        run_server(settings, tmp_path, "--stateless", port=port_b, **env) as replica_b,
        run_server(settings, tmp_path, "--stateless", **env) as replica_a,  # type: ignore[arg-type]
    ):
        result, waited = await _generate(replica_a)
    assert result["status"] == "succeed"
    assert waited < 10, "woken through LISTEN/NOTIFY, not by the 60 s safety net"
    assert status_queries(sandbox, str(result["task_id"])) == 1
    assert "callback for task" in replica_b.stderr() and "callback for task" not in replica_a.stderr()


async def test_an_mcp_task_sees_the_callback_at_its_clients_next_poll(
    sandbox: SandboxServer, replica: HttpServer
) -> None:
    """tasks/get answers from the journal; a callback makes the next one confirm with Kling, not the safety net."""
    sandbox.state.config.run_seconds = 1.0
    async with connect(replica.mcp_url, mode="legacy") as client:
        params = {"name": GENERATE, "arguments": ARGS, "task": {"ttl": 60_000}}
        task = (await legacy_request(client, "tools/call", params))["task"]
        assert task["pollInterval"] <= 10_000  # the client is told to ask us at least every max poll gap
        started = time.monotonic()
        status = task["status"]
        while status == "working" and time.monotonic() - started < 30:
            await anyio.sleep(0.2)  # a client asking more often than told: only the journal answers in between
            status = (await legacy_request(client, "tasks/get", {"taskId": task["taskId"]}))["status"]
    assert status == "completed"
    assert time.monotonic() - started < 10, "the callback marked the task due; the 60 s safety net did not find it"
    [kling_task] = sandbox.state.tasks.values()
    assert status_queries(sandbox, kling_task.task_id) <= 2


def _relay_outcomes(servers: list[HttpServer], external: str) -> int:
    """How many callbacks of this task the servers have decided about (relayed, or not, and why)."""
    lines = [line for s in servers for line in s.stderr().splitlines() if f"task {external}" in line]
    return sum(1 for line in lines if "relayed callback of task" in line or "not relayed:" in line)


async def _send_callbacks(servers: list[HttpServer], external: str, body: dict[str, object], count: int) -> None:
    """POST `body` `count` times to the task's true callback address, taking turns between the servers."""
    async with httpx.AsyncClient() as http:
        for i in range(count):
            server = servers[i % len(servers)]
            response = await http.post(_address(server).url_for(external), json=body)
            assert response.status_code == 200


def _wait_for(check: Callable[[], bool], seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while not check() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert check()


async def test_the_relay_sends_kling_s_confirmed_status_once_whatever_the_callbacks_say(
    settings: Settings, sandbox: SandboxServer, tmp_path: Path, pg_url: str
) -> None:
    """Callbacks at task X's true address, with a body about task Y, replayed 50 times across two replicas."""
    sandbox.state.config.run_seconds = 3.0
    sandbox.state.inject(callback_lost=100)  # Kling's own callbacks never arrive: only the crafted ones do
    env = {**SPARSE, "KLING_MCP_JOURNAL": pg_url, "KLING_MCP_RELAY_TO_PRIVATE_ADDRESSES": "1"}
    env["KLING_MCP_PUBLIC_URL"] = "https://mcp.example.com"  # the callbacks are sent to each replica directly
    with (
        user_webhook() as hook,
        run_server(settings, tmp_path, "--stateless", **env) as a,  # type: ignore[arg-type]
        run_server(settings, tmp_path, "--stateless", **env) as b,  # type: ignore[arg-type]
    ):
        x, _ = await _generate(a, callback_url=hook.url, timeout=0)
        y, _ = await _generate(a, timeout=0)
        external = str(x["external_task_id"])
        evil = {"id": "v", "url": "https://evil.example/v.mp4", "duration": "5"}
        about_y = {
            "task_id": y["task_id"],
            "task_status": "succeed",
            "task_info": {"external_task_id": y["external_task_id"]},
            "task_result": {"videos": [evil]},
        }
        await _send_callbacks([a, b], external, about_y, 50)
        _wait_for(lambda: _relay_outcomes([a, b], external) == 50)
        running = list(hook.bodies)
        _wait_for(lambda: sandbox.state.tasks[str(x["task_id"])].status(sandbox.state.clock()) == "succeed")
        await _send_callbacks([a, b], external, about_y, 50)
        _wait_for(lambda: _relay_outcomes([a, b], external) == 100)
        stderr = a.stderr() + b.stderr()
    # While X ran: one relay, of X's status as Kling gave it; then one of X's success, with Kling's video.
    assert [(body["task_id"], body["task_status"]) for body in running] in (
        [(x["task_id"], "submitted")],
        [(x["task_id"], "processing")],
    )
    assert [body["task_status"] for body in hook.bodies[1:]] == ["succeed"]
    assert hook.bodies[1]["task_id"] == x["task_id"]
    assert hook.bodies[1]["task_result"]["videos"][0]["url"].endswith(f"/sandbox/videos/{x['task_id']}.mp4")
    assert "evil.example" not in str(hook.bodies) and str(y["task_id"]) not in str(hook.bodies)
    assert "users-own" not in stderr
