"""`kling-mcp sandbox`: the fake Kling API in the foreground, for pointing a server or a script at by hand."""

from __future__ import annotations

from kling_mcp.cli.output import printer
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
    server.serve_forever()
    return 0
