"""kling-mcp as an OAuth protected resource: its metadata document (RFC 9728) and the challenges on 401 and 403.

A client that gets 401 learns from `WWW-Authenticate` where the metadata is (`resource_metadata`) and which scopes
to ask for (`scope`); the metadata names the identity provider. That is all an MCP client needs to sign in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from mcp.server.auth.handlers.metadata import ProtectedResourceMetadataHandler
from mcp.server.auth.routes import build_resource_metadata_url, cors_middleware
from mcp.shared.auth import ProtectedResourceMetadata
from pydantic import AnyHttpUrl
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kling_mcp.server.access import READ_SCOPE, USER_SCOPES

INVALID_TOKEN_DESCRIPTION = "The access token is missing, expired, revoked, or not issued for this server"
REALM = "kling-mcp"
ROOT_METADATA_PATH = "/.well-known/oauth-protected-resource"


@dataclass(frozen=True)
class ProtectedResource:
    """This deployment as the identity provider knows it: resource identifier and issuer."""

    resource: str  # public URL + MCP path: the audience every access token must carry
    issuer: str

    @property
    def metadata_url(self) -> str:
        """Where the metadata document is (RFC 9728 §3.1: the well-known prefix inserted before the path)."""
        return str(build_resource_metadata_url(AnyHttpUrl(self.resource)))

    def routes(self) -> list[Route]:
        """The metadata document at its RFC 9728 address and, for clients that try it, at the root well-known one."""
        # Validated as a whole document, so the issuer keeps its exact spelling (no slash added to a bare host).
        metadata = ProtectedResourceMetadata.model_validate(
            {
                "resource": self.resource,
                "authorization_servers": [self.issuer],
                "scopes_supported": list(USER_SCOPES),
                "resource_name": "kling-mcp",
            }
        )
        endpoint = cors_middleware(ProtectedResourceMetadataHandler(metadata).handle, ["GET", "OPTIONS"])
        paths = dict.fromkeys((urlsplit(self.metadata_url).path, ROOT_METADATA_PATH))
        return [Route(path, endpoint=endpoint, methods=["GET", "OPTIONS"]) for path in paths]


_SCOPE_PARAM = re.compile(r'(?:^|[\s,])scope="([^"]*)"')


def _scope_in(message: Message) -> str | None:
    for name, value in message.get("headers", []):
        if name.lower() == b"www-authenticate":
            found = _SCOPE_PARAM.search(value.decode("latin-1"))
            if found:
                return found.group(1)
    return None


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def challenge(status: int, *, had_credentials: bool, resource: ProtectedResource | None, scope: str) -> str:
    """The `WWW-Authenticate` value for a refused request (RFC 6750 §3, RFC 9728 §5.1, MCP scope selection)."""
    params: list[tuple[str, str]] = [("realm", REALM)]
    if status == 403:
        params.append(("error", "insufficient_scope"))
    elif had_credentials:
        # RFC 6750 §3.1: a request that carried no credentials gets no error code, only the challenge.
        params += [("error", "invalid_token"), ("error_description", INVALID_TOKEN_DESCRIPTION)]
    if resource is not None:
        params += [("resource_metadata", resource.metadata_url), ("scope", scope)]
    return "Bearer " + ", ".join(f"{name}={_quoted(value)}" for name, value in params)


class BearerChallenge:
    """ASGI middleware: every 401/403 from the MCP endpoint carries one consistent, spec-shaped challenge."""

    def __init__(self, app: ASGIApp, *, path: str, resource: ProtectedResource | None) -> None:
        self.app = app
        self.path = path
        self.resource = resource

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].rstrip("/") != self.path.rstrip("/"):
            await self.app(scope, receive, send)
            return
        had_credentials = any(name.lower() == b"authorization" for name, _ in scope["headers"])

        async def send_with_challenge(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] in (401, 403):
                status = message["status"]
                # A 403 names the scope it lacks (the scope gate's); the SDK's own says only "Required scope: …".
                needed = " ".join(USER_SCOPES) if status == 401 else _scope_in(message) or READ_SCOPE
                value = challenge(status, had_credentials=had_credentials, resource=self.resource, scope=needed)
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"www-authenticate"]
                message = {**message, "headers": [*headers, (b"www-authenticate", value.encode())]}
            await send(message)

        await self.app(scope, receive, send_with_challenge)
