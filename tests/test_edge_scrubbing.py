"""Credentials never leave through the two ways around a tool's own error text: protocol errors and progress.

A protocol error (JSON-RPC error) is worded by whoever raised it and passes only the edge middleware
(`server/edge.py`); a progress notification does not pass the edge at all (`server/replies.progress_of` scrubs it).
Each test echoes a credential through one of them, in memory, and fails when that scrubbing is taken away.
"""

from __future__ import annotations

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from kling_mcp.config import Settings
from kling_mcp.sandbox.runner import SandboxServer
from kling_mcp.server.build import build_server
from tests.conftest import EXAMPLE_PNG, FAST_RETRY, text_of
from tests.names import GENERATE
from tests.tasks_support import GetTask, TaskIdParams, sep_request

pytestmark = pytest.mark.anyio

# The shape of a JWT (what every token signed for Kling is), not a live one.
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJhayJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ"


def _secret(settings: Settings) -> str:
    assert settings.secret_key is not None
    return settings.secret_key.get_secret_value()


@pytest.mark.parametrize("echoed", ["jwt", "secret key"])
async def test_a_protocol_error_that_quotes_a_credential_is_scrubbed(settings: Settings, echoed: str) -> None:
    credential = JWT if echoed == "jwt" else _secret(settings)
    async with Client(build_server(settings, retry_policy=FAST_RETRY)) as client:
        # tasks/get quotes the unknown task id it was given in its error (the spec's "Task not found").
        with pytest.raises(MCPError) as raised:
            await sep_request(client, GetTask(params=TaskIdParams(task_id=f"id-{credential}")))
    message = raised.value.error.message
    assert message == "Failed to retrieve task: Task not found (id-[REDACTED])"
    assert credential not in str(raised.value.error.model_dump())


@pytest.mark.parametrize("echoed", ["jwt", "secret key"])
async def test_a_progress_message_that_quotes_a_credential_is_scrubbed(
    settings: Settings, sandbox: SandboxServer, echoed: str
) -> None:
    credential = JWT if echoed == "jwt" else _secret(settings)
    # Kling's status string reaches the progress text as sent ("<status> · N s elapsed"): one odd answer quotes it.
    sandbox.state.inject(query_odd_status=1, odd_status=credential)
    messages: list[str] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:  # noqa: ARG001
        messages.append(message or "")

    async with Client(build_server(settings, retry_policy=FAST_RETRY)) as client:
        result = await client.call_tool(
            GENERATE, {"prompt": "fog lifts", "start_image_url": str(EXAMPLE_PNG)}, progress_callback=on_progress
        )
    assert not result.is_error, text_of(result)
    assert "[REDACTED] · 0 s elapsed" in messages, messages
    assert not [m for m in messages if credential in m]
