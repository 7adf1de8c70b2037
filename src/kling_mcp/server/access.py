"""Who is calling a tool and what their credentials allow: OAuth scopes, static tokens, or the local operator."""

from __future__ import annotations

from collections.abc import Iterable

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError

from kling_mcp.service.describe.owners import Viewer, operator

# The scopes an identity provider grants for this server. A broader scope implies the narrower ones (the MCP
# authorization spec asks resource servers to honour such hierarchies), so `kling:admin` alone is enough for all.
READ_SCOPE = "kling:read"
GENERATE_SCOPE = "kling:generate"
ADMIN_SCOPE = "kling:admin"
IMPLIED_SCOPES: dict[str, tuple[str, ...]] = {
    ADMIN_SCOPE: (GENERATE_SCOPE, READ_SCOPE),
    GENERATE_SCOPE: (READ_SCOPE,),
    READ_SCOPE: (),
}
# What a client should ask for to use the server normally (admin is granted deliberately, never by default).
USER_SCOPES = (READ_SCOPE, GENERATE_SCOPE)


def expand_scopes(granted: Iterable[str]) -> list[str]:
    """The granted scopes plus every scope they imply, in a stable order."""
    expanded = list(dict.fromkeys(granted))
    for scope in list(expanded):
        expanded += [s for s in IMPLIED_SCOPES.get(scope, ()) if s not in expanded]
    return expanded


class MissingScopeError(ToolError):
    """The caller's token does not carry a scope this tool needs; no request was sent to Kling."""

    def __init__(self, scope: str, what: str) -> None:
        self.scope = scope
        super().__init__(
            f"Not allowed: {what} needs the OAuth scope '{scope}', which this access token does not carry. No "
            "request was sent to Kling and nothing was billed. Sign in again granting that scope, or ask the server's "
            "operator for it."
        )


class Caller:
    """The caller of one tool call: whose tasks it sees, and whether it may create paid tasks."""

    def __init__(self, viewer: Viewer, scopes: Iterable[str] | None) -> None:
        self.viewer = viewer
        self._scopes = None if scopes is None else frozenset(scopes)  # None: unrestricted (no authentication)

    def holds(self, scope: str) -> bool:
        """Whether the caller may do what `scope` allows."""
        return self._scopes is None or scope in self._scopes

    def require(self, scope: str, what: str) -> None:
        """Raise `MissingScopeError` unless the caller holds `scope`."""
        if not self.holds(scope):
            raise MissingScopeError(scope, what)


def token_of(request: object) -> AccessToken | None:
    """The access token the HTTP request was authenticated with (None over stdio or without authentication)."""
    scope = getattr(request, "scope", None)
    user = scope.get("user") if isinstance(scope, dict) else None
    return user.access_token if isinstance(user, AuthenticatedUser) else None


def caller_for(token: AccessToken | None) -> Caller:
    """The caller a token stands for; without one, the local operator (stdio, or HTTP without authentication)."""
    if token is None:
        return Caller(operator(), None)
    scopes = expand_scopes(token.scopes)
    return Caller(Viewer(owner=owner_of(token), sees_all=ADMIN_SCOPE in scopes), scopes)


def caller_of(ctx: Context) -> Caller:
    """Who made this tool call (the token of the very HTTP request that carried it)."""
    return caller_for(token_of(ctx.request_context.request))


def owner_of(token: AccessToken) -> str:
    """The owner label of a token's tasks: `oauth:<subject>` for the identity provider's users, else its label.

    A subject is unique at its issuer, and one deployment trusts one issuer; a token without a subject (some
    client-credentials tokens) is owned by its client. Static tokens come with their own `token:` label.
    """
    if (token.claims or {}).get("iss"):
        return f"oauth:{token.subject}" if token.subject else f"oauth-client:{token.client_id}"
    return token.subject or f"client:{token.client_id}"
