"""`kling-mcp sandbox`: the fake Kling API in the foreground, for pointing a server or a script at by hand."""

from __future__ import annotations

import signal
from types import FrameType

from kling_mcp.cli import printer
from kling_mcp.listening import listen_failure
from kling_mcp.sandbox.runner import SandboxServer
from kling_mcp.sandbox.state import SandboxConfig

_say = printer()  # a command for people; this is no MCP stdio session


def serve_sandbox(host: str, port: int, task_seconds: float) -> int:
    """Serve until Ctrl-C (which ends in KeyboardInterrupt); raises `ListenError` when the port is taken."""
    try:
        server = SandboxServer(SandboxConfig(run_seconds=task_seconds), host=host, port=port)
    except OSError as exc:  # the sandbox imports nothing of ours, so its bind error is put in words here
        raise listen_failure(host, port, exc) from None
    config = server.state.config
    _say(f"Kling sandbox (a fake Kling API: no keys, no cost) listening on {server.url}")
    _say("Point kling-mcp at it with these variables:")
    _say(f"  KLING_API_BASE_URL={server.url}")
    _say(f"  KLING_ACCESS_KEY={config.access_key}")
    _say(f"  KLING_SECRET_KEY={config.secret_key}")
    _say("Ctrl-C stops it.")
    return _serve_until_signalled(server)


def _serve_until_signalled(server: SandboxServer) -> int:
    """Serve; the exit code a shell expects for the signal that stopped it (130 for Ctrl-C, 143 for SIGTERM).

    uvicorn stops on SIGINT/SIGTERM and then raises the signal again for the handler it found. Left at Python's
    default, that KeyboardInterrupt meets asyncio's own SIGINT handling and the exit code depended on timing (seen
    as 0 on a busy machine); a handler that only notes the signal makes the code certain.
    """
    received: list[int] = []

    def note(signum: int, frame: FrameType | None) -> None:
        received.append(signum)
        # Before uvicorn installs its own handler (its start takes a few tenths of a second), only this one runs:
        # a Ctrl-C then was noted and ignored, and the sandbox served on.
        server.handle_signal(signum, frame)

    previous = {sig: signal.signal(sig, note) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        server.serve_forever()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 128 + received[-1] if received else 0
