"""Kling's account concurrency (1303) gets a local queue (issue 22 item 5): against the sandbox's concurrency limit,
creates beyond it wait in line and go through once a slot frees up, within the caller's wait; past it, the error says
nothing was created."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from kling_mcp.api.models import Task
from kling_mcp.sandbox.runner import SandboxServer
from kling_mcp.server.build import build_server
from kling_mcp.service.limits.account_queue import AccountQueue, CreateNotSentError
from tests.conftest import FAST_RETRY, journal_entries, make_settings, text_of
from tests.names import TEXT

pytestmark = pytest.mark.anyio

ARGS: dict[str, Any] = {"prompt": "a lantern sways", "model": "kling-v2-6", "mode": "std", "duration": 5}


async def test_creates_over_the_accounts_concurrency_wait_in_line_and_all_go_through(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    sandbox.state.config.concurrency_limit = 1
    sandbox.state.config.run_seconds = 0.2
    settings = make_settings(sandbox, tmp_path, KLING_MCP_MAX_WAIT=10)
    results: list[Any] = []
    async with Client(build_server(settings, retry_policy=FAST_RETRY)) as client:

        async def call() -> None:
            results.append(await client.call_tool(TEXT, {**ARGS, "timeout": 10}))

        async with anyio.create_task_group() as group:
            for _ in range(3):
                group.start_soon(call)
    assert [r.is_error for r in results] == [False] * 3, [text_of(r) for r in results]
    assert len(sandbox.state.tasks) == 3
    assert len(sandbox.state.creates()) > 3, "no create was refused with 1303: the test proves nothing"


async def test_a_caller_whose_wait_runs_out_in_line_is_told_nothing_was_created(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    sandbox.state.config.concurrency_limit = 1
    sandbox.state.config.run_seconds = 60.0  # the one slot stays taken
    settings = make_settings(sandbox, tmp_path, KLING_MCP_MAX_WAIT=0.5)
    async with Client(build_server(settings, retry_policy=FAST_RETRY)) as client:
        first = await client.call_tool(TEXT, {**ARGS, "timeout": 0.1})
        with anyio.fail_after(60):
            second = await client.call_tool(TEXT, {**ARGS, "timeout": 0.1})
    assert not first.is_error, text_of(first)
    text = text_of(second)
    assert second.is_error and "1303" in text and "no task was created" in text, text
    assert len(sandbox.state.tasks) == 1


async def test_a_create_in_line_is_never_sent_once_its_intent_may_be_judged_stale(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    """Issue 22: a create held in the 1303 line past KLING_MCP_STALE_INTENT_AFTER could be declared never created
    (by a sweep or a look-up, here or in another replica: "safe to create again") and then be sent and billed. With
    a stale threshold of 1 s and HTTP timeouts of 0.1 s, no create is sent 0.8 s after its intent: one refused with
    1303 (the resend path) and one queued behind it (the first send, from the line) fail with the 1303 refusal,
    recorded as create_failed, although the slot frees up at 1.5 s, within both callers' waits."""
    sandbox.state.config.concurrency_limit = 1
    sandbox.state.config.run_seconds = 1.5
    settings = make_settings(
        sandbox, tmp_path, KLING_MCP_MAX_WAIT=10, KLING_MCP_HTTP_TIMEOUT=0.1, KLING_MCP_STALE_INTENT_AFTER=1.0
    )
    results: list[Any] = []
    async with Client(build_server(settings, retry_policy=FAST_RETRY)) as client:
        first = await client.call_tool(TEXT, {**ARGS, "timeout": 0.1})

        async def call() -> None:
            results.append(await client.call_tool(TEXT, {**ARGS, "timeout": 10}))

        with anyio.fail_after(30):
            async with anyio.create_task_group() as group:
                group.start_soon(call)  # sent, refused with 1303, then resent from the line
                await anyio.sleep(0.3)
                group.start_soon(call)  # the account is full: its first send would come from the line
    assert not first.is_error, text_of(first)
    assert len(results) == 2
    for result in results:
        text = text_of(result)
        assert result.is_error and "1303" in text and "no task was created" in text, text
    assert len(sandbox.state.tasks) == 1
    statuses = sorted(e.status for e in journal_entries(settings) if e.task_id is None)
    assert statuses == ["create_failed", "create_failed"]


async def test_a_create_whose_intent_is_already_too_old_is_not_sent_at_all() -> None:
    """The first send while the account is not full: past `send_until` nothing is sent (injected clock)."""
    now = [100.0]
    sent: list[str] = []

    async def send() -> Task:
        sent.append("create")
        raise AssertionError("sent")

    queue = AccountQueue(clock=lambda: now[0])
    with pytest.raises(CreateNotSentError, match=r"not sent to Kling.*No task was created"):
        await queue.create(send, "kmcp-old", deadline=200.0, send_until=100.0)
    assert sent == []
