"""OAuth access tokens from an identity provider: JWTs checked against its keys, opaque ones by introspection.

Implements the resource-server side of the MCP authorization spec: a token is accepted only when its issuer is the
configured one, its audience is this server's resource identifier (RFC 8707), it is within its lifetime, and (for
JWTs) its signature verifies with one of the issuer's published keys. Tokens themselves are never logged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import jwt
from mcp.server.auth.provider import AccessToken, TokenVerifier
from pydantic import SecretStr

from kling_mcp.http.issuer import Issuer, IssuerError, json_object
from kling_mcp.http.throttle import IntrospectionThrottle, NegativeCache, current_attempt, token_digest
from kling_mcp.server.access import expand_scopes

logger = logging.getLogger(__name__)

# Asymmetric algorithms only: a resource server never shares a secret with the provider, and `none` is no signature.
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
CLOCK_SKEW_SECONDS = 5  # tolerated difference between the provider's clock and ours
INTROSPECTION_CACHE_SECONDS = (
    60.0  # an introspected token is trusted this long (or until it expires) before asking again
)
INTROSPECTION_CACHE_SIZE = 1024


class TokenRefused(Exception):
    """Why a token was refused, for the log (never the token itself)."""


def canonical_resource(url: str) -> str:
    """A resource identifier compared without case in scheme and host, and without a trailing slash (MCP spec)."""
    parts = urlsplit(url.strip())
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path.rstrip("/"), parts.query, ""))


def granted_scopes(claims: dict[str, Any]) -> list[str]:
    """Scopes from `scope` (RFC 9068, a space-separated string) or `scp` (a list or string, as Entra and Okta send)."""
    for name in ("scope", "scp"):
        value = claims.get(name)
        if isinstance(value, str):
            return value.split()
        if isinstance(value, list):
            return [str(v) for v in value]
    return []


@dataclass(frozen=True)
class IntrospectionClient:
    """This server's own client credentials at the provider, for RFC 7662 introspection of opaque tokens."""

    client_id: str
    client_secret: SecretStr


class OAuthTokenVerifier(TokenVerifier):
    """Accepts access tokens the configured issuer made for this resource; everything else is refused (None)."""

    def __init__(
        self,
        issuer: Issuer,
        resource: str,
        *,
        introspection: IntrospectionClient | None = None,
        clock: Callable[[], float] = time.time,
        throttle: IntrospectionThrottle | None = None,
        negative: NegativeCache | None = None,
    ) -> None:
        self.issuer = issuer
        self.resource = resource
        self._audience = canonical_resource(resource)
        self._introspection = introspection
        self._clock = clock
        self._introspected: dict[bytes, tuple[AccessToken, float]] = {}
        self._throttle = throttle
        self._negative = negative or NegativeCache(0.0)

    async def verify_token(self, token: str) -> AccessToken | None:
        """The token's identity and scopes, or None when it is not acceptable (the reason goes to the log)."""
        try:
            if token.count(".") == 2:
                return await self._verify_jwt(token)
            if self._introspection is not None:
                return await self._introspect(token)
            raise TokenRefused("not a JWT, and introspection is not configured (KLING_MCP_OAUTH_CLIENT_ID)")
        except TokenRefused as exc:
            logger.info("refused an access token: %s", exc)
        except IssuerError as exc:
            logger.warning("cannot check access tokens right now: %s", exc)
        return None

    async def _verify_jwt(self, token: str) -> AccessToken:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise TokenRefused("malformed JWT header") from None
        algorithm = header.get("alg")
        if algorithm not in ALGORITHMS:
            raise TokenRefused(f"signing algorithm {algorithm!r} is not accepted")
        kid = header.get("kid")
        jwk = await self.issuer.signing_key(kid if isinstance(kid, str) else None)
        if jwk is None:
            raise TokenRefused(f"signed with key {kid!r}, which {self.issuer.issuer} does not publish")
        if jwk.get("alg", algorithm) != algorithm:
            raise TokenRefused(f"key {kid!r} is for {jwk.get('alg')}, the token says {algorithm}")
        try:
            key = jwt.PyJWK(jwk, algorithm=algorithm)
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=[algorithm],
                issuer=self.issuer.issuer,
                leeway=CLOCK_SKEW_SECONDS,
                options={"require": ["exp", "iss", "aud"], "verify_aud": False},
            )
        except jwt.PyJWTError as exc:
            raise TokenRefused(f"{exc.__class__.__name__}: {exc}") from None
        self._check_audience(claims.get("aud"))
        return self._access_token(claims)

    def _check_audience(self, audience: object) -> None:
        audiences = audience if isinstance(audience, list) else [audience]
        if not any(isinstance(a, str) and canonical_resource(a) == self._audience for a in audiences):
            raise TokenRefused(f"audience {audience!r} is not this server ({self.resource})")

    def _access_token(self, claims: dict[str, Any]) -> AccessToken:
        subject = claims.get("sub")
        client_id = claims.get("client_id") or claims.get("azp") or subject
        if not isinstance(client_id, str) or not client_id:
            raise TokenRefused("the token names neither a subject nor a client")
        expires = claims.get("exp")
        return AccessToken(
            token="oauth",  # the SDK keeps this object around: the secret itself stays out of it
            client_id=client_id,
            scopes=expand_scopes(granted_scopes(claims)),
            # The SDK's bearer middleware refuses a token past `expires_at` without a word in the log: the skew we
            # allow goes in here, so the only refusals are ours, each logged with its reason.
            expires_at=int(expires) + CLOCK_SKEW_SECONDS if isinstance(expires, int | float) else None,
            resource=self.resource,
            subject=subject if isinstance(subject, str) and subject else None,
            claims={"iss": self.issuer.issuer},
        )

    async def _introspect(self, token: str) -> AccessToken:
        assert self._introspection is not None
        digest = token_digest(token)
        now = self._clock()
        cached = self._introspected.get(digest)
        if cached is not None and cached[1] > now:
            return cached[0]
        if self._negative.refused(digest):
            raise TokenRefused("the provider refused this token a moment ago (not asked again): not active")
        metadata = await self.issuer.metadata()
        if metadata.introspection_endpoint is None:
            raise TokenRefused(f"{self.issuer.issuer} publishes no introspection_endpoint for opaque tokens")
        self._spend_introspection()
        claims = await self._ask(metadata.introspection_endpoint, token)
        try:
            return self._introspected_token(claims, digest, now)
        except TokenRefused:
            self._negative.remember(digest)
            raise

    def _spend_introspection(self) -> None:
        """Take one introspection from the caller's address; refused (the request answers 429) when it has none."""
        if self._throttle is None:
            return
        attempt = current_attempt()
        address = attempt.address if attempt is not None else "unknown"
        wait = self._throttle.take(address)
        if wait is not None:
            if attempt is not None:
                attempt.retry_after = wait
            raise TokenRefused(f"too many tokens to introspect from {address}; it may try again in {wait:.1f} s")

    def _introspected_token(self, claims: dict[str, Any], digest: bytes, now: float) -> AccessToken:
        if claims.get("active") is not True:
            raise TokenRefused("the provider says the token is not active")
        if claims.get("iss", self.issuer.issuer) != self.issuer.issuer:
            raise TokenRefused(f"issuer {claims.get('iss')!r} is not {self.issuer.issuer}")
        expires = claims.get("exp")
        if isinstance(expires, int | float) and expires + CLOCK_SKEW_SECONDS < now:
            raise TokenRefused("the token has expired")
        self._check_audience(claims.get("aud"))
        access = self._access_token(claims)
        until = min(now + INTROSPECTION_CACHE_SECONDS, expires if isinstance(expires, int | float) else now + 60)
        self._remember(digest, access, until, now)
        return access

    async def _ask(self, endpoint: str, token: str) -> dict[str, Any]:
        assert self._introspection is not None
        credentials = (self._introspection.client_id, self._introspection.client_secret.get_secret_value())
        try:
            response = await self.issuer.http.post(
                endpoint,
                data={"token": token, "token_type_hint": "access_token"},
                auth=credentials,
                headers={"Accept": "application/json"},
            )
        except httpx.HTTPError as exc:
            raise IssuerError(f"cannot reach {endpoint}: {exc.__class__.__name__}") from None
        if response.status_code != 200:
            raise IssuerError(f"{endpoint} answered HTTP {response.status_code} (are the client credentials right?)")
        return json_object(response, endpoint)

    def _remember(self, digest: bytes, access: AccessToken, until: float, now: float) -> None:
        if len(self._introspected) >= INTROSPECTION_CACHE_SIZE:
            self._introspected = {k: v for k, v in self._introspected.items() if v[1] > now}
            if len(self._introspected) >= INTROSPECTION_CACHE_SIZE:
                self._introspected.clear()
        self._introspected[digest] = (access, until)
