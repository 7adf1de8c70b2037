"""The call gate on the real server, in memory: refusals while draining, and the drain's cancel after the grace."""

from __future__ import annotations

import anyio
import pytest
from mcp import Client

from kling_mcp.config import Settings
from kling_mcp.sandbox.runner import SandboxServer
from kling_mcp.server.build import build_server
from kling_mcp.server.call_gate import CallGate
from tests.conftest import FAST_RETRY, text_of
from tests.names import GENERATE

pytestmark = pytest.mark.anyio

ARGUMENTS = {"prompt": "p", "start_image_url": "https://example.com/a.png", "timeout": 30}


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_a_draining_server_refuses_new_calls(settings: Settings, sandbox: SandboxServer, mode: str) -> None:
    gate = CallGate(limit=4)
    async with Client(build_server(settings, retry_policy=FAST_RETRY, extensions=[gate]), mode=mode) as client:
        await gate.drain(grace_seconds=0, hard_limit_seconds=0)
        result = await client.call_tool(GENERATE, ARGUMENTS)
    assert result.is_error
    assert "shutting down" in text_of(result) and "nothing was billed" in text_of(result)
    assert sandbox.state.requests == []


async def test_drain_cancels_calls_past_the_grace_and_waits_for_them(
    settings: Settings, sandbox: SandboxServer
) -> None:
    sandbox.state.config.run_seconds = 60.0
    gate = CallGate(limit=4)
    results = []
    server = build_server(settings, retry_policy=FAST_RETRY, extensions=[gate])
    async with Client(server) as client, anyio.create_task_group() as tg:

        async def call() -> None:
            results.append(await client.call_tool(GENERATE, ARGUMENTS))

        tg.start_soon(call)
        with anyio.fail_after(10):
            while gate.in_flight == 0 or not sandbox.state.creates():
                await anyio.sleep(0.01)
        with anyio.fail_after(10):
            await gate.drain(grace_seconds=0.2, hard_limit_seconds=5)
        assert gate.in_flight == 0
    [result] = results
    assert result.is_error
    assert "shut down before this call finished" in text_of(result)


def test_the_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        CallGate(limit=0)
