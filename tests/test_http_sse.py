"""SSE streams open with a priming event and a `retry` hint (SEP-1699), as the conformance suite expects.

In-process (the ASGI app over httpx's ASGI transport, the SDK's session manager running): the stream is the app's,
whatever serves it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import httpx
import pytest
from mcp_types import JSONRPCNotification, JSONRPCResponse
from pydantic import SecretStr

from kling_mcp.config import Settings
from kling_mcp.http.app import build_http_app
from kling_mcp.http.events import StreamCursors
from kling_mcp.http.settings import HttpSettings

pytestmark = pytest.mark.anyio

TOKEN = "sse-token-0123456789abcdef"
ACCEPT = {"Accept": "application/json, text/event-stream", "Authorization": f"Bearer {TOKEN}"}
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}},
}


def events(body: str) -> list[dict[str, str]]:
    """The SSE events of a body, each as its fields."""
    found = []
    for block in body.replace("\r\n", "\n").split("\n\n"):
        if block.strip():
            fields = [line.partition(":") for line in block.split("\n")]
            found.append({name: value.removeprefix(" ") for name, _, value in fields})
    return found


@pytest.fixture
async def session(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str], str]]:
    """An initialized 2025-11-25 session: the HTTP client, its headers, and the initialize stream's body."""
    built = build_http_app(settings, HttpSettings(), (SecretStr(TOKEN),))
    async with (
        built.server.session_manager.run(),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=built.app), base_url="http://127.0.0.1:8000") as http,
    ):
        response = await http.post("/mcp", json=INITIALIZE, headers=ACCEPT)
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
        headers = {**ACCEPT, "mcp-session-id": response.headers["mcp-session-id"], "mcp-protocol-version": "2025-11-25"}
        await http.post("/mcp", json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=headers)
        yield http, headers, response.text


async def test_each_stream_opens_with_a_priming_event_and_a_retry_hint(
    session: tuple[httpx.AsyncClient, dict[str, str], str],
) -> None:
    http, headers, initialize_body = session
    ping = await http.post("/mcp", json={"jsonrpc": "2.0", "id": 2, "method": "ping"}, headers=headers)
    for body, request_id in ((initialize_body, 1), (ping.text, 2)):
        priming, answer = events(body)
        assert priming["id"] and priming["data"] == "" and priming["retry"] == "1000", priming
        assert answer["event"] == "message" and f'"id":{request_id}' in answer["data"], answer
        assert answer["id"] != priming["id"]


async def test_a_reconnection_after_the_answer_ends_at_once(
    session: tuple[httpx.AsyncClient, dict[str, str], str],
) -> None:
    """Nothing is replayed (see kling_mcp.http.events), and a stream whose answer was sent is not held open."""
    http, headers, _ = session
    ping = await http.post("/mcp", json={"jsonrpc": "2.0", "id": 2, "method": "ping"}, headers=headers)
    priming = events(ping.text)[0]
    with anyio.fail_after(5):
        again = await http.get("/mcp", headers={**headers, "Last-Event-ID": priming["id"]})
    assert again.status_code == 200 and events(again.text) == []


async def test_cursors_are_unguessable_bounded_and_keep_no_message() -> None:
    cursors = StreamCursors(limit=3)
    progress = JSONRPCNotification(jsonrpc="2.0", method="notifications/progress", params={"progress": 1})
    first = await cursors.store_event("7", None)
    ids = [first] + [await cursors.store_event("7", progress) for _ in range(2)]
    assert len(set(ids)) == 3 and all(len(i) >= 16 for i in ids)
    sent: list[object] = []

    async def send(event: object) -> None:
        sent.append(event)

    assert await cursors.replay_events_after(ids[1], send) == "7" and sent == []
    await cursors.store_event("8", None)  # a fourth cursor: the oldest is forgotten
    assert await cursors.replay_events_after(first, send) is None
    await cursors.store_event("7", JSONRPCResponse(jsonrpc="2.0", id=7, result={}))  # stream 7 answered
    assert await cursors.replay_events_after(ids[2], send) is None
    assert len(cursors.streams) == 1
