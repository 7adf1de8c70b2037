"""`kling-mcp` over stdio: the server as Claude Desktop and other local MCP clients launch it."""

from __future__ import annotations

import os
import signal
import sys
import threading
from types import FrameType
from typing import TextIO

from kling_mcp.cli import INTERRUPTED
from kling_mcp.config import Settings
from kling_mcp.http.settings import HttpSettings

# Shown only when a person started the server in a terminal: a client would never see it (it goes to stderr).
TERMINAL_HINT = """\
kling-mcp is an MCP server: it now waits for an MCP client (Claude Desktop, Claude Code, Cursor, ...) to talk \
JSON-RPC on its stdin and stdout, so there is nothing to type here. Ctrl-C stops it.
  See it work without keys:   kling-mcp demo
  Check your Kling keys:      kling-mcp check
  Set it up in a client:      see "Use from Claude Desktop" in the README
"""
# After Ctrl-C, how long the shutdown may take at most (a create already sent finishes and is journaled first).
SHUTDOWN_LIMIT_SECONDS = 60.0


def hint_if_interactive(stdin: TextIO | None, stderr: TextIO) -> bool:
    """Tell a person who started the server in a terminal what it is waiting for; returns whether it did."""
    try:
        interactive = stdin is not None and stdin.isatty()
    except (ValueError, OSError):  # a closed or odd stdin is no person at a terminal
        return False
    if interactive:
        stderr.write(TERMINAL_HINT)
        stderr.flush()
    return interactive


def _leave_after_shutdown(closed: threading.Event) -> None:
    # The SDK reads stdin in a worker thread that only a line or EOF wakes, so after Ctrl-C the process would wait
    # for the person to press Enter. Once the server's lifespan has closed (the journal written and closed), or
    # the limit has passed, nothing is left to wait for.
    closed.wait(SHUTDOWN_LIMIT_SECONDS)
    sys.stderr.flush()
    os._exit(INTERRUPTED)


def serve_stdio(settings: Settings, http: HttpSettings) -> int:
    """Serve one client over stdin/stdout until it closes them (or Ctrl-C); returns the exit code."""
    hint_if_interactive(sys.stdin, sys.stderr)
    from kling_mcp.server.build import AppContext, build_server
    from kling_mcp.service.prepare.images import ImagePolicy

    closed = threading.Event()

    def on_context(app: AppContext) -> None:
        app.stack.callback(closed.set)  # registered first, so it runs last: after the journal is closed

    server = build_server(
        settings,
        image_policy=ImagePolicy.for_roots(http.file_roots, remote=False),
        on_context=on_context,
        max_message_bytes=http.max_body_bytes,
    )

    def interrupted(signum: int, frame: FrameType | None) -> None:
        threading.Thread(target=_leave_after_shutdown, args=(closed,), name="leave-after-ctrl-c", daemon=True).start()
        signal.default_int_handler(signum, frame)  # KeyboardInterrupt: the calls are cancelled, the lifespan closes

    signal.signal(signal.SIGINT, interrupted)
    server.run()
    return 0
