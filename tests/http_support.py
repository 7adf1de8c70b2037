"""Run `python -m kling_mcp --transport streamable-http` as a real subprocess on 127.0.0.1 and talk to it."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import httpx2
from mcp import Client
from mcp.client.extension import ClientExtension
from mcp.client.session import ElicitationFnT
from mcp.client.streamable_http import streamable_http_client

from kling_mcp.config import Settings
from tests.conftest import subprocess_env

TOKEN = "test-token-0123456789abcdef"
OTHER_TOKEN = "other-token-fedcba9876543210"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 20.0


def free_port() -> int:
    """A port nobody listens on right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class HttpServer:
    """A running server subprocess."""

    proc: subprocess.Popen[bytes]
    port: int
    stderr_path: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def mcp_url(self) -> str:
        return f"{self.base_url}/mcp"

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def terminate(self, timeout: float = STOP_TIMEOUT) -> int:
        """SIGTERM, then wait; SIGKILL only if it does not stop in time. Returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
            raise


def wait_healthy(server: HttpServer, timeout: float = START_TIMEOUT) -> None:
    """Poll /healthz until it answers 200, or fail with the server's stderr."""
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2.0) as http:
        while time.monotonic() < deadline:
            if server.proc.poll() is not None:
                raise AssertionError(f"server exited with {server.proc.returncode}:\n{server.stderr()}")
            try:
                if http.get(f"{server.base_url}/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
    raise AssertionError(f"server did not become healthy in {timeout} s:\n{server.stderr()}")


def server_command(port: int, *args: str, host: str = "127.0.0.1") -> list[str]:
    """`python -m kling_mcp` serving streamable HTTP on host:port."""
    serve = ["--transport", "streamable-http", "--host", host, "--port", str(port)]
    return [sys.executable, "-m", "kling_mcp", *serve, *args]


@contextmanager
def run_server(
    settings: Settings, workdir: Path, *args: str, host: str = "127.0.0.1", port: int | None = None, **env: str
) -> Iterator[HttpServer]:
    """Start the server subprocess (on `port`, or a free one), wait until it is healthy, and stop it afterwards."""
    port = port or free_port()
    stderr_path = workdir / f"server-{port}.stderr"
    with (
        stderr_path.open("wb") as stderr_file,
        subprocess.Popen(
            server_command(port, *args, host=host),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr_file,
            env=subprocess_env(settings, **env),
            cwd=workdir,
        ) as proc,
    ):
        server = HttpServer(proc, port, stderr_path)
        try:
            wait_healthy(server)
            yield server
        finally:
            if proc.poll() is None:
                server.terminate()


@asynccontextmanager
async def connect(
    url: str,
    token: str | None = TOKEN,
    *,
    mode: str = "auto",
    headers: dict[str, str] | None = None,
    extensions: Sequence[ClientExtension] = (),
    elicitation_callback: ElicitationFnT | None = None,
) -> AsyncIterator[Client]:
    """A real MCP client over streamable HTTP, sending the bearer token (and any other headers)."""
    sent = dict(headers or {})
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    async with (
        httpx2.AsyncClient(headers=sent, timeout=httpx2.Timeout(30.0, read=120.0)) as http,
        Client(
            streamable_http_client(url, http_client=http),
            mode=mode,
            extensions=list(extensions),
            elicitation_callback=elicitation_callback,
        ) as client,
    ):
        yield client


INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}},
}
JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
