"""Step-up for paid tools: a `tools/call` the token's scopes do not cover gets HTTP 403 `insufficient_scope`.

The MCP authorization spec asks for this answer (with the scope needed) so that a client can sign in again with the
broader scope and retry. It has to look inside the JSON-RPC body, so it runs only for tokens that lack some tool's
scope; everybody else's requests pass untouched. The tool checks the scope again itself (defence in depth).
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kling_mcp.http.resource import ProtectedResource, challenge


def _needed_scope(body: bytes, tool_scopes: Mapping[str, str]) -> str | None:
    """The scope a JSON-RPC `tools/call` body needs, or None (anything else, or not JSON: the endpoint judges)."""
    try:
        message = json.loads(body)
    except ValueError:
        return None
    if not isinstance(message, dict) or message.get("method") != "tools/call":
        return None
    params = message.get("params")
    name = params.get("name") if isinstance(params, dict) else None
    return tool_scopes.get(name) if isinstance(name, str) else None


class ScopeGate:
    """ASGI wrapper of the MCP endpoint (inside authentication): refuses tool calls the token has no scope for."""

    def __init__(
        self, app: ASGIApp, *, tool_scopes: Mapping[str, str], resource: ProtectedResource | None, max_body: int
    ) -> None:
        self.app = app
        self.tool_scopes = dict(tool_scopes)
        self.resource = resource
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        user = scope.get("user")
        if scope["type"] != "http" or scope.get("method") != "POST" or not isinstance(user, AuthenticatedUser):
            await self.app(scope, receive, send)
            return
        granted = set(user.scopes)
        if all(needed in granted for needed in self.tool_scopes.values()):
            await self.app(scope, receive, send)
            return
        messages, body = await self._read_body(receive)
        needed = _needed_scope(body, self.tool_scopes)
        if needed is not None and needed not in granted:
            await self._refuse(send, needed)
            return

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)

    async def _read_body(self, receive: Receive) -> tuple[list[Message], bytes]:
        """The request's messages as received (to replay), and its body; stops reading past the size limit."""
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if not message.get("more_body", False) or size > self.max_body:
                break  # too large: the endpoint refuses it by its own limit
        return messages, b"".join(m.get("body", b"") for m in messages if m["type"] == "http.request")

    async def _refuse(self, send: Send, needed: str) -> None:
        body = json.dumps(
            {"error": "insufficient_scope", "error_description": f"This tool needs the scope {needed}"}
        ).encode()
        value = challenge(403, had_credentials=True, resource=self.resource, scope=needed)
        await send(
            {
                "type": "http.response.start",
                "status": 403,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"www-authenticate", value.encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
