"""Helpers for the callback tests: a receiver standing in for a user's own webhook, and request counting."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from kling_mcp.sandbox.runner import SandboxServer

CALLBACK_SECRET = "test-callback-secret-0123456789"


@dataclass
class Webhook:
    """A user's webhook on loopback: records every JSON body POSTed to it."""

    url: str
    bodies: list[dict[str, Any]] = field(default_factory=list)
    hosts: list[str] = field(default_factory=list)  # the Host header of each POST


@contextmanager
def user_webhook() -> Iterator[Webhook]:
    """Serve a webhook on a free loopback port in a thread."""
    hook = Webhook(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            hook.bodies.append(json.loads(self.rfile.read(length)))
            hook.hosts.append(self.headers.get("Host", ""))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *_: object) -> None:  # stay quiet: the test's output is pytest's
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    hook.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/kling?secret=users-own"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield hook
    finally:
        server.shutdown()
        server.server_close()


def status_queries(sandbox: SandboxServer, task_id: str) -> int:
    """How many status queries (one task, or a list page) the sandbox answered that could concern this task."""
    return sum(
        1
        for r in sandbox.state.requests
        if r.method == "GET" and (r.path.endswith(f"/{task_id}") or r.path.endswith(("/image2video", "/omni-video")))
    )
