"""Run the sandbox: in a background thread of this process (tests, demo, KLING_MCP_SANDBOX) or in the foreground."""

from __future__ import annotations

import logging
import socket
import threading
import time
from types import FrameType, TracebackType

import uvicorn

from kling_mcp.sandbox.callback_sender import CallbackSender
from kling_mcp.sandbox.routes import build_app
from kling_mcp.sandbox.state import SandboxConfig, SandboxState

logger = logging.getLogger(__name__)


def _bind(host: str, port: int) -> socket.socket:
    # IPPROTO_TCP, not the default 0: asyncio turns Nagle's algorithm off (TCP_NODELAY) only on sockets that say
    # they are TCP. With it on, each answer's body waited for the client's delayed ACK of its headers (~40 ms).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(512)
    except OSError:
        sock.close()
        raise
    return sock


class SandboxServer:
    """A sandbox listening on loopback in a daemon thread. Use as a context manager or call start()/stop()."""

    def __init__(self, config: SandboxConfig | None = None, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.state = SandboxState(config=config or SandboxConfig())
        self._socket = _bind(host, port)
        self.host, self.port = self._socket.getsockname()[:2]
        self.url = f"http://{self.host}:{self.port}"
        self.state.base_url = self.url
        self._server = uvicorn.Server(
            uvicorn.Config(
                build_app(self.state),
                log_level="critical",
                access_log=False,
                lifespan="off",
                timeout_graceful_shutdown=1,
            )
        )
        self._thread = threading.Thread(target=self._serve, name="kling-sandbox", daemon=True)
        self._callbacks = CallbackSender(self.state)

    def _serve(self) -> None:
        self._server.run(sockets=[self._socket])

    def serve_forever(self) -> None:
        """Serve in this thread (`kling-mcp sandbox`) until SIGINT/SIGTERM; Ctrl-C ends in KeyboardInterrupt."""
        self._callbacks.start()
        try:
            self._serve()
        finally:
            self._callbacks.stop()

    def handle_signal(self, signum: int, frame: FrameType | None) -> None:
        """Stop `serve_forever` as uvicorn's own handler would; works before uvicorn listens for signals, too."""
        self._server.handle_exit(signum, frame)

    def start(self) -> SandboxServer:
        """Start serving and return once the socket answers."""
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the Kling sandbox did not start")
            time.sleep(0.005)
        self._callbacks.start()
        logger.debug("Kling sandbox listening on %s", self.url)
        return self

    def stop(self) -> None:
        """Stop serving and wait for the thread."""
        self._callbacks.stop()
        self._server.should_exit = True
        self._thread.join(timeout=5)
        self._socket.close()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
