"""Slow clients are cut off (issue #11 row 11): 150 real sockets that send nothing, trickle their headers or trickle
their body are all closed within the deadlines, while a normal client keeps being served."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest

from kling_mcp.config import Settings
from tests.http_support import HttpServer, connect, run_server

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

HEADER_SECONDS, BODY_SECONDS, KEEP_ALIVE_SECONDS = 2.0, 3.0, 1
SLACK = 2.0  # event-loop and scheduling delay on a busy 2-core machine
PER_KIND = 50
DEADLINES = {
    "KLING_MCP_HEADER_TIMEOUT": str(HEADER_SECONDS),
    "KLING_MCP_BODY_TIMEOUT": str(BODY_SECONDS),
    "KLING_MCP_KEEP_ALIVE_TIMEOUT": str(KEEP_ALIVE_SECONDS),
}
HEADERS = b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 4096\r\n\r\n"


async def _until_closed(reader: asyncio.StreamReader, limit: float) -> bytes:
    """Everything the server sent until it closed the connection (fails if it stays open past `limit`).

    A server that closes while the client is still sending makes the kernel answer with a reset, which can drop
    what was already received: a reset counts as closed, with whatever arrived before it.
    """
    received = bytearray()

    async def read_all() -> None:
        try:
            while chunk := await reader.read(65536):
                received.extend(chunk)
        except ConnectionResetError:
            pass

    await asyncio.wait_for(read_all(), timeout=limit)
    return bytes(received)


async def _trickle(writer: asyncio.StreamWriter, data: bytes) -> None:
    """One byte every 0.2 s: always active, never done."""
    for byte in data:
        writer.write(bytes([byte]))
        try:
            await writer.drain()
        except ConnectionError:
            return
        await asyncio.sleep(0.2)


async def _slow_socket(port: int, kind: str) -> tuple[str, float, bytes]:
    """Open one slow connection; return its kind, how long it stayed open after its clock started, and the reply."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.monotonic()
    feeder: asyncio.Task[None] | None = None
    if kind == "headers":
        feeder = asyncio.create_task(_trickle(writer, HEADERS))
    elif kind == "body":
        writer.write(HEADERS)
        await writer.drain()
        feeder = asyncio.create_task(_trickle(writer, b"{" * 4096))
    try:
        reply = await _until_closed(reader, limit=30)
    finally:
        if feeder is not None:
            feeder.cancel()
        writer.close()
    return kind, time.monotonic() - started, reply


async def _normal_client_meanwhile(server: HttpServer, done: Callable[[], bool]) -> int:
    """Tool lists over MCP and health checks, over and over, while the slow sockets are open; returns how many."""
    served = 0
    async with httpx.AsyncClient(timeout=10) as http:
        while not done():
            async with connect(server.mcp_url, token=None) as client:
                assert len((await client.list_tools()).tools) == 5
            assert (await http.get(f"{server.base_url}/healthz")).status_code == 200
            served += 1
    return served


async def _gather_slow(port: int) -> list[tuple[str, float, bytes]]:
    kinds = ["silent", "headers", "body"] * PER_KIND
    jobs: list[Awaitable[tuple[str, float, bytes]]] = [_slow_socket(port, kind) for kind in kinds]
    return list(await asyncio.gather(*jobs))


async def test_slow_sockets_are_closed_within_the_deadlines_and_others_are_served(
    settings: Settings, tmp_path: Path
) -> None:
    with run_server(settings, tmp_path, **DEADLINES) as server:  # type: ignore[arg-type]  # no `port` key
        slow = asyncio.create_task(_gather_slow(server.port))
        served = await _normal_client_meanwhile(server, slow.done)
        results = await slow
        stderr = server.stderr()
    assert len(results) == 3 * PER_KIND
    assert served >= 1
    limits = {"silent": HEADER_SECONDS, "headers": HEADER_SECONDS, "body": BODY_SECONDS}
    for kind, held, _ in results:
        assert limits[kind] - 0.5 <= held <= limits[kind] + SLACK, (kind, held)
    # A reset can swallow the 408 of a socket that was still trickling, never that of a silent one.
    silent = [reply for kind, _, reply in results if kind == "silent"]
    assert all(reply.startswith(b"HTTP/1.1 408 Request Timeout") for reply in silent), silent[:3]
    trickled = [reply for kind, _, reply in results if kind == "headers"]
    assert sum(reply.startswith(b"HTTP/1.1 408 Request Timeout") for reply in trickled) >= PER_KIND // 2
    assert "took over 2 s" in stderr and "took over 3 s" in stderr


async def test_an_idle_kept_alive_connection_is_closed(settings: Settings, tmp_path: Path) -> None:
    with run_server(settings, tmp_path, **DEADLINES) as server:  # type: ignore[arg-type]  # no `port` key
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        await writer.drain()
        answered = time.monotonic()
        reply = await _until_closed(reader, limit=KEEP_ALIVE_SECONDS + HEADER_SECONDS + SLACK)
        idle = time.monotonic() - answered
        writer.close()
    assert reply.startswith(b"HTTP/1.1 200")
    assert idle <= KEEP_ALIVE_SECONDS + SLACK
