"""Kling's account concurrency (1303) gets a local queue (issue 22 item 5): against the sandbox's concurrency limit,
creates beyond it wait in line and go through once a slot frees up, within the caller's wait; past it, the error says
nothing was created."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from kling_mcp.sandbox.runner import SandboxServer
from kling_mcp.server.build import build_server
from tests.conftest import FAST_RETRY, make_settings, text_of
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
