"""Two bounds the rest of the suite would not miss: inline uploads in flight at once, and a request's own timeout
cut to the caller's deadline. Each test fails when its bound is removed (checked by removing it)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import anyio
import httpx
import pytest
from mcp import Client
from pydantic import SecretStr

from kling_mcp.api.client import MIN_REQUEST_TIMEOUT, KlingClient
from kling_mcp.api.errors import KlingError
from kling_mcp.api.models import Image2VideoBody
from kling_mcp.api.signing import JwtSigner
from kling_mcp.sandbox.runner import SandboxServer
from kling_mcp.service.options import ServiceOptions
from tests.conftest import EXAMPLE_PNG, FAST_RETRY, text_of

pytestmark = pytest.mark.anyio

DEFAULT_UPLOADS = ServiceOptions().max_concurrent_uploads


async def test_inline_uploads_in_flight_are_bounded(server_factory: Callable[..., Any], sandbox: SandboxServer) -> None:
    """One more call than the bound, each with a local image sent inline: the last create waits for a slot."""
    calls = DEFAULT_UPLOADS + 1
    sandbox.state.inject(create_slow=DEFAULT_UPLOADS, slow_seconds=0.5)  # the creates that fill the bound are slow
    async with Client(server_factory()) as client:

        async def one(i: int) -> None:
            arguments = {"prompt": f"upload {i}", "start_image_url": str(EXAMPLE_PNG), "timeout": 0}
            result = await client.call_tool("kling_generate_video_from_image", arguments)
            assert not result.is_error, text_of(result)

        async with anyio.create_task_group() as tg:
            for i in range(calls):
                tg.start_soon(one, i)
    arrivals = sorted(r.at for r in sandbox.state.creates())
    assert len(arrivals) == calls
    # The first DEFAULT_UPLOADS creates go out together; the last only once one of them has been answered (0.5 s).
    assert arrivals[DEFAULT_UPLOADS - 1] - arrivals[0] < 0.35, arrivals
    assert arrivals[-1] - arrivals[0] >= 0.45, arrivals


@pytest.mark.slow  # waits out MIN_REQUEST_TIMEOUT
async def test_a_request_never_outlives_the_callers_deadline(sandbox: SandboxServer) -> None:
    """The HTTP client allows 30 s; the caller has 0.2 s left: the create is given MIN_REQUEST_TIMEOUT, not 30 s."""
    sandbox.state.inject(create_slow=5, slow_seconds=6.0)
    config = sandbox.state.config
    async with httpx.AsyncClient(base_url=sandbox.url, timeout=30) as http:
        client = KlingClient(http, JwtSigner(config.access_key, SecretStr(config.secret_key)), policy=FAST_RETRY)
        body = Image2VideoBody(
            model_name="kling-v2-master", image="https://images.example.com/a.png", external_task_id="kmcp-deadline"
        )
        started = time.monotonic()
        with pytest.raises(KlingError):
            await client.create_task("image2video", body, deadline=time.monotonic() + 0.2)
        elapsed = time.monotonic() - started
    assert MIN_REQUEST_TIMEOUT <= elapsed < MIN_REQUEST_TIMEOUT + 2.0, elapsed
