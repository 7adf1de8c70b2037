"""The fast lane (`pytest -m "not slow"`) stays fast: it cannot start processes (a test that does must say it is
slow), and the sandbox every test talks to answers at once."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

import httpx
import pytest

from kling_mcp.sandbox.runner import SandboxServer


def test_a_test_not_marked_slow_cannot_start_a_process() -> None:
    with pytest.raises(RuntimeError, match=r"not marked slow: add @pytest\.mark\.slow"):
        subprocess.run([sys.executable, "-c", "pass"], check=False)


def test_nor_through_asyncio() -> None:
    async def spawn() -> None:
        await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")

    with pytest.raises(RuntimeError, match="not marked slow"):
        asyncio.run(spawn())


@pytest.mark.slow
def test_a_slow_test_may() -> None:
    assert subprocess.run([sys.executable, "-c", "pass"], check=False).returncode == 0


@pytest.mark.anyio
async def test_the_sandbox_answers_at_once_on_a_kept_alive_connection(sandbox: SandboxServer) -> None:
    """Every fast test talks to the sandbox: with Nagle's algorithm on, each answer's body waited ~40 ms for the
    client's delayed ACK of its headers."""
    async with httpx.AsyncClient(base_url=sandbox.url) as http:
        await http.get("/v1/videos/image2video/1")  # opens the connection
        started = time.perf_counter()
        for _ in range(20):
            await http.get("/v1/videos/image2video/1")
        elapsed = time.perf_counter() - started
    assert elapsed < 0.6, f"20 requests took {elapsed:.2f} s: ~40 ms each is Nagle's algorithm waiting for an ACK"
