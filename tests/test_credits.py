"""The credits tool (issue 22 item 4) over a real MCP client against the sandbox's `GET /account/costs`: the packs
and what is left, the 12-hour lag said, Kling asked at most once a second and the answer cached; 1102 says to top
up and that nothing was created."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from kling_mcp.sandbox.runner import SandboxServer
from kling_mcp.sandbox.state import SandboxConfig
from kling_mcp.server.build import build_server
from kling_mcp.service.describe.owners import local_owner
from tests.conftest import FAST_RETRY, make_settings, text_of
from tests.names import CREDITS, TEXT

pytestmark = pytest.mark.anyio

ARGS: dict[str, Any] = {"prompt": "a lantern sways", "model": "kling-v2-6", "mode": "std", "duration": 5}


def _costs_queries(sandbox: SandboxServer) -> int:
    return sum(1 for r in sandbox.state.requests if r.path == "/account/costs")


async def test_credits_show_the_packs_the_lag_and_the_callers_spend(sandbox: SandboxServer, tmp_path: Path) -> None:
    sandbox.state.account.set_remaining(42.5, sandbox.state.clock())
    settings = make_settings(sandbox, tmp_path, KLING_MCP_SPEND_LIMIT=100)
    async with Client(build_server(settings, retry_policy=FAST_RETRY)) as client:
        result = await client.call_tool(CREDITS, {})
    assert not result.is_error, text_of(result)
    credits = result.structured_content
    assert credits is not None
    assert credits["remaining_units"] == 42.5
    [pack] = credits["packs"]
    assert (pack["status"], pack["remaining_units"], pack["name"]) == ("online", 42.5, "Sandbox video pack")
    assert "lag up to 12 hours" in credits["note"]
    assert credits["your_spend"] == {"owner": local_owner(), "spent_units": 0.0, "limit_units": 100.0}


async def test_kling_is_asked_at_most_once_a_second_and_the_answer_is_cached(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    # The sandbox refuses a second query within 1 s with 1302; ten concurrent calls must not provoke it.
    sandbox.state.config = SandboxConfig(queue_seconds=0.01, run_seconds=0.04, costs_min_interval=1.0)
    settings = make_settings(sandbox, tmp_path)
    results: list[Any] = []
    async with Client(build_server(settings, retry_policy=FAST_RETRY)) as client:

        async def call() -> None:
            results.append(await client.call_tool(CREDITS, {}))

        async with anyio.create_task_group() as group:
            for _ in range(10):
                group.start_soon(call)
    assert all(not r.is_error for r in results), [text_of(r) for r in results if r.is_error]
    assert _costs_queries(sandbox) == 1


async def test_packs_used_up_say_top_up_and_that_nothing_was_created(sandbox: SandboxServer, tmp_path: Path) -> None:
    sandbox.state.account.set_remaining(0.0, sandbox.state.clock())
    async with Client(build_server(make_settings(sandbox, tmp_path), retry_policy=FAST_RETRY)) as client:
        refused = await client.call_tool(TEXT, ARGS)
    text = text_of(refused)
    assert refused.is_error and "1102" in text, text
    assert "top up" in text and "nothing was created or billed" in text, text
    assert sandbox.state.tasks == {}
