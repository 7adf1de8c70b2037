"""The 401 challenge for a request that carried no credentials at all: no error code (RFC 6750 §3.1).

The SDK answers every unauthenticated request with `error="invalid_token"`. RFC 6750 keeps that code for a token
that was sent and refused; a request with no authentication information gets a bare challenge, so a client can tell
"sign in" from "your token is bad". This middleware rewrites only that case and keeps any other parameter (such as
`resource_metadata`, which OAuth clients follow).
"""

from __future__ import annotations

import json
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

REALM = "kling-mcp"
_PARAM = re.compile(r'([A-Za-z_]+)="([^"]*)"')
_ERROR_PARAMS = ("error", "error_description", "error_uri")
BODY = {"error_description": "Authentication required: send an Authorization header with a bearer token"}


def bare_challenge(challenge: str) -> str:
    """`Bearer realm="kling-mcp"` plus the challenge's parameters other than the error ones."""
    kept = [f'{name}="{value}"' for name, value in _PARAM.findall(challenge) if name not in (*_ERROR_PARAMS, "realm")]
    return "Bearer " + ", ".join([f'realm="{REALM}"', *kept])


def _has_credentials(scope: Scope) -> bool:
    return any(name == b"authorization" for name, _ in scope.get("headers", ()))


class BareChallengeMiddleware:
    """Drops the error code from the SDK's 401 when the request had no Authorization header."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _has_credentials(scope):
            await self.app(scope, receive, send)
            return
        rewriting = False
        body = json.dumps(BODY).encode()

        async def send_rewritten(message: Message) -> None:
            nonlocal rewriting
            if message["type"] == "http.response.start" and message["status"] == 401:
                rewriting = True
                headers = []
                for name, value in message.get("headers", []):
                    if name.lower() == b"www-authenticate":
                        value = bare_challenge(value.decode("latin-1")).encode("latin-1")
                    elif name.lower() == b"content-length":
                        value = str(len(body)).encode()
                    headers.append((name, value))
                message = {**message, "headers": headers}
            elif message["type"] == "http.response.body" and rewriting:
                if message.get("more_body", False):
                    return  # the SDK's body is replaced by ours, sent with its last part
                message = {**message, "body": body}
            await send(message)

        await self.app(scope, receive, send_rewritten)
