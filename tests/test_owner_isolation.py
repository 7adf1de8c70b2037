"""Tasks belong to their owner, in the fast lane: two callers with their own bearer tokens, over real HTTP.

The real streamable HTTP app (static tokens, each its own owner with the generate and read scopes, neither admin)
runs under uvicorn in a thread of the test process, and two real MCP clients talk to it over loopback. One
caller's task is invisible to the other in every view: the list, the get tool, the player's follow tool. (The
OAuth owners and the admin scope are proven with a real identity provider in tests/test_oauth.py, a slow test.)
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import uvicorn
from pydantic import SecretStr
from starlette.types import ASGIApp

from kling_mcp.config import Settings
from kling_mcp.http.app import build_http_app
from kling_mcp.http.settings import HttpSettings
from tests.conftest import FAST_RETRY, text_of
from tests.http_support import OTHER_TOKEN, TOKEN, connect
from tests.names import GENERATE, GET, LIST

pytestmark = pytest.mark.anyio

IMAGE_URL = "https://images.example.com/start.png"


@contextmanager
def serve_in_thread(app: ASGIApp) -> Iterator[str]:
    """Serve the app on a free loopback port from a thread of this process; yields the MCP endpoint's URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "the in-process HTTP server did not start"
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def _task(result: Any) -> dict[str, Any]:
    assert not result.is_error, text_of(result)
    task: dict[str, Any] = result.structured_content["result"]
    return task


async def test_one_caller_never_sees_another_caller_s_task(settings: Settings) -> None:
    tokens = (SecretStr(TOKEN), SecretStr(OTHER_TOKEN))
    app = build_http_app(settings, HttpSettings(), tokens, retry_policy=FAST_RETRY).app
    with serve_in_thread(app) as url:
        async with connect(url, TOKEN) as alice, connect(url, OTHER_TOKEN) as bob:
            made = _task(await alice.call_tool(GENERATE, {"prompt": "a cat", "start_image_url": IMAGE_URL}))
            task_id, external_task_id = made["task_id"], made["external_task_id"]
            assert made["done"] is True

            # Alice sees her task, by either id and in her list.
            assert _task(await alice.call_tool(GET, {"task_id": task_id}))["task_id"] == task_id
            listed = (await alice.call_tool(LIST, {})).structured_content
            assert listed is not None and [t["task_id"] for t in listed["result"]] == [task_id]

            # Bob's list is empty, and both of its ids answer as if no such task existed.
            bobs = (await bob.call_tool(LIST, {})).structured_content
            assert bobs is not None and bobs["result"] == []
            for any_id in (task_id, external_task_id):
                unknown = await bob.call_tool(GET, {"task_id": any_id})
                assert unknown.is_error, text_of(unknown)
                assert "No task with id" in text_of(unknown) and "a cat" not in text_of(unknown)
