"""Which credentials the HTTP endpoint accepts: static bearer tokens, OAuth access tokens, or both."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import httpx
from mcp.server.auth.provider import TokenVerifier
from mcp.server.auth.settings import AuthSettings
from pydantic import SecretStr

from kling_mcp import __version__
from kling_mcp.http.issuer import Issuer, IssuerError, check_secure_url
from kling_mcp.http.oauth import IntrospectionClient, OAuthTokenVerifier
from kling_mcp.http.resource import ProtectedResource
from kling_mcp.http.security import EitherVerifier, HttpSecurityError, StaticTokenVerifier
from kling_mcp.http.settings import HttpSettings
from kling_mcp.http.throttle import IntrospectionThrottle, NegativeCache
from kling_mcp.server.access import READ_SCOPE

logger = logging.getLogger(__name__)

ISSUER_TIMEOUT_SECONDS = 10.0


@dataclass
class Authentication:
    """What guards the endpoint: the verifier, the SDK's settings, and (with OAuth) the protected resource."""

    verifier: TokenVerifier
    settings: AuthSettings
    resource: ProtectedResource | None = None
    issuer_http: httpx.AsyncClient | None = None  # talks to the identity provider; closed at shutdown


def _oauth_verifier(
    http: HttpSettings, public_url: str | None
) -> tuple[OAuthTokenVerifier, ProtectedResource, httpx.AsyncClient]:
    issuer, resource = http.oauth_issuer, http.oauth_resource(public_url)
    assert issuer is not None
    if resource is None:
        raise HttpSecurityError(
            "KLING_MCP_OAUTH_ISSUER needs KLING_MCP_PUBLIC_URL: the address clients reach this server at "
            "(https://mcp.example.com), which with the MCP path is the audience access tokens must be issued for"
        )
    try:
        check_secure_url(issuer, "KLING_MCP_OAUTH_ISSUER")
        check_secure_url(resource, "KLING_MCP_PUBLIC_URL")
    except IssuerError as exc:
        raise HttpSecurityError(str(exc)) from None
    introspection = None
    if (http.oauth_client_id is None) != (http.oauth_client_secret is None):
        raise HttpSecurityError("set both KLING_MCP_OAUTH_CLIENT_ID and KLING_MCP_OAUTH_CLIENT_SECRET, or neither")
    if http.oauth_client_id is not None and http.oauth_client_secret is not None:
        introspection = IntrospectionClient(http.oauth_client_id, http.oauth_client_secret)
    client = httpx.AsyncClient(
        timeout=ISSUER_TIMEOUT_SECONDS,
        follow_redirects=False,  # keys come from exactly the URLs the provider's metadata names
        headers={"User-Agent": f"kling-mcp/{__version__}"},
    )
    verifier = OAuthTokenVerifier(
        Issuer(issuer, client),
        resource,
        introspection=introspection,
        throttle=IntrospectionThrottle(http.oauth_introspections_per_minute),
        negative=NegativeCache(http.oauth_negative_cache_seconds),
    )
    return verifier, ProtectedResource(resource=resource, issuer=issuer), client


def authentication(
    http: HttpSettings, tokens: tuple[SecretStr, ...], public_url: str | None = None
) -> Authentication | None:
    """The endpoint's guard for these settings (`public_url`: KLING_MCP_PUBLIC_URL, shared with Kling callbacks),
    or None when it is served without authentication."""
    if http.oauth_issuer is None and http.oauth_client_id is not None:
        raise HttpSecurityError("KLING_MCP_OAUTH_CLIENT_ID is set but KLING_MCP_OAUTH_ISSUER is not")
    verifiers: list[TokenVerifier] = [StaticTokenVerifier(tokens)] if tokens else []
    resource: ProtectedResource | None = None
    client: httpx.AsyncClient | None = None
    if http.oauth_issuer is not None:
        oauth, resource, client = _oauth_verifier(http, public_url)
        verifiers.append(oauth)
    if not verifiers:
        return None
    verifier = verifiers[0] if len(verifiers) == 1 else EitherVerifier(*verifiers)
    settings = AuthSettings(
        # issuer_url is required by the model; the SDK uses it only for routes of an authorization server of its
        # own, which this server never has (signing users in is the identity provider's job).
        issuer_url=http.oauth_issuer or f"http://{_url_host(http.host)}:{http.port}",
        resource_server_url=None,  # the metadata route and challenges are ours (kling_mcp.http.resource)
        required_scopes=[READ_SCOPE],  # every credential we accept carries it (broader scopes imply it)
    )
    return Authentication(verifier, settings, resource, client)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
