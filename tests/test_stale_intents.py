"""Issue #11 row 5: an intent whose create never reached Kling resolves; writes lost with a process are re-learnt."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

import anyio
import pytest
from mcp import Client

from kling_mcp.config import Settings
from kling_mcp.sandbox.runner import SandboxServer
from tests.conftest import journal_entries, journal_entry, stdio_params, subprocess_env, text_of
from tests.names import GET, LIST

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

GRACE = 8.0  # seconds between the start of the check and the end of the grace period


def _task(result: Any) -> dict[str, Any]:
    assert result.structured_content is not None, text_of(result)
    task: dict[str, Any] = result.structured_content["result"]
    return task


def _kill_during_create(settings: Settings, sandbox: SandboxServer) -> None:
    """Start a server process, send one generate call, and SIGKILL the process while its create is in flight."""
    messages = [
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "t", "version": "0"},
            },
        },
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "tools/call",
            "params": {
                "name": "kling_generate_video_from_image",
                "arguments": {"prompt": "a moth", "start_image_url": "https://images.example.com/moth.png"},
            },
        },
    ]
    with subprocess.Popen(
        [sys.executable, "-m", "kling_mcp"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=subprocess_env(settings),
    ) as proc:
        assert proc.stdin is not None
        proc.stdin.write("".join(json.dumps(m) + "\n" for m in messages).encode())
        proc.stdin.flush()
        deadline = time.monotonic() + 20
        while not sandbox.state.creates() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert sandbox.state.creates(), "the create never left the server"
        proc.kill()


async def test_row5_intent_whose_create_never_reached_kling_becomes_never_created(
    settings: Settings, sandbox: SandboxServer
) -> None:
    sandbox.state.inject(create_lost=1, slow_seconds=3)
    _kill_during_create(settings, sandbox)
    assert sandbox.state.tasks == {}
    [entry] = journal_entries(settings)
    assert entry.status == "creating" and entry.task_id is None
    external = entry.external_task_id
    # The grace ends a few seconds from now, however slowly the machine ran the steps before.
    grace = time.time() - entry.created_at + GRACE
    # A grace this short is accepted only with a short HTTP timeout (a create may take 6 of them).
    params = stdio_params(settings, KLING_MCP_STALE_INTENT_AFTER=f"{grace:.1f}", KLING_MCP_HTTP_TIMEOUT="1")
    async with Client(params, mode="legacy") as client:
        started = time.monotonic()
        early = await client.call_tool(GET, {"task_id": external, "wait_seconds": 1})
        waited = time.monotonic() - started
        assert not early.is_error, text_of(early)
        assert _task(early)["status"] == "creating" and _task(early)["done"] is False
        assert waited >= 0.9, "wait_seconds was asked for; it should wait while Kling might still show the task"
        assert "does not know this task yet" in text_of(early) and "never created" in text_of(early)
        await anyio.sleep(max(0.0, entry.created_at + grace - time.time()) + 0.2)
        started = time.monotonic()
        late = await client.call_tool(GET, {"task_id": external, "wait_seconds": 20})
        elapsed = time.monotonic() - started
    assert not late.is_error, text_of(late)
    task = _task(late)
    assert task["status"] == "never_created" and task["done"] is True
    assert "safe" in task["next_step"] and "nothing was billed" in task["status_message"]
    assert "did not wait" in text_of(late) and elapsed < 5
    for text in (text_of(early), text_of(late)):
        assert "the external_task_id'" not in text, "a literal placeholder instead of the id"
    assert external in task["next_step"] or external in text_of(late)
    assert journal_entry(settings, external).status == "never_created"  # type: ignore[union-attr]
    assert sandbox.state.tasks == {}


async def test_next_start_adopts_a_task_whose_id_the_dead_process_never_wrote(
    settings: Settings, sandbox: SandboxServer
) -> None:
    """The create reached Kling but the process died before writing the task id: the next start learns it."""
    sandbox.state.inject(create_slow=1, slow_seconds=3)
    _kill_during_create(settings, sandbox)
    for _ in range(100):  # the sandbox makes the task before it sleeps on the answer
        if sandbox.state.tasks:
            break
        await anyio.sleep(0.05)
    [created] = sandbox.state.tasks.values()
    [entry] = journal_entries(settings)
    assert entry.status == "creating" and entry.task_id is None
    async with Client(stdio_params(settings), mode="legacy") as client:
        await client.call_tool(LIST, {})  # the first call opens the runtime, which sweeps open intents
        for _ in range(100):
            listed = _task_list(await client.call_tool(LIST, {}))
            if listed[0]["task_id"]:
                break
            await anyio.sleep(0.05)
    assert listed[0]["task_id"] == created.task_id
    assert listed[0]["external_task_id"] == entry.external_task_id


def _task_list(result: Any) -> list[dict[str, Any]]:
    assert result.structured_content is not None, text_of(result)
    tasks: list[dict[str, Any]] = result.structured_content["result"]
    return tasks
