"""Who may use the HTTP endpoint: static bearer tokens (constant-time), Host/Origin lists, and the exposure check."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import re

from mcp.server.auth.provider import AccessToken, TokenVerifier
from mcp.server.transport_security import TransportSecuritySettings
from pydantic import SecretStr

from kling_mcp.http.settings import UNAUTHENTICATED_OPT_OUT_FLAG, HttpSettings
from kling_mcp.server.access import GENERATE_SCOPE, expand_scopes

logger = logging.getLogger(__name__)

MIN_TOKEN_LENGTH = 16
_TOKEN_CHARS = re.compile(r"^[\x21-\x7e]+$")  # visible ASCII: what an Authorization header can carry
LOOPBACK_HOSTS = ("127.0.0.1:*", "localhost:*", "[::1]:*")
LOOPBACK_ORIGINS = ("http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*")


class HttpSecurityError(ValueError):
    """The HTTP exposure is misconfigured or unsafe; the message says what to set. The server does not start."""


def load_tokens(http: HttpSettings) -> tuple[SecretStr, ...]:
    """The accepted bearer tokens: KLING_MCP_AUTH_TOKEN (comma-separated) plus the lines of the token file."""
    raw: list[str] = []
    if http.auth_token is not None:
        raw += http.auth_token.get_secret_value().split(",")
    if http.auth_token_file is not None:
        try:
            text = http.auth_token_file.expanduser().read_text(encoding="utf-8")
        except OSError as exc:
            raise HttpSecurityError(
                f"cannot read KLING_MCP_AUTH_TOKEN_FILE {http.auth_token_file}: {exc.strerror}"
            ) from None
        raw += [line for line in text.splitlines() if not line.lstrip().startswith("#")]
        if not any(line.strip() for line in raw):
            raise HttpSecurityError(f"KLING_MCP_AUTH_TOKEN_FILE {http.auth_token_file} holds no token")
    tokens: list[SecretStr] = []
    for number, value in enumerate((v.strip() for v in raw if v.strip()), start=1):
        # The messages name the token's position, never its value.
        if len(value) < MIN_TOKEN_LENGTH or not _TOKEN_CHARS.match(value):
            raise HttpSecurityError(
                f"bearer token #{number} must be at least {MIN_TOKEN_LENGTH} visible ASCII characters without "
                "spaces; make one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        tokens.append(SecretStr(value))
    return tuple(tokens)


def owner_label(token: SecretStr) -> str:
    """A stable label for the tasks of a static token's holder, from which the token cannot be recovered.

    scrypt (memory-hard, fixed salt so the label survives restarts) keeps a journal reader from testing guesses
    of a token against its label at any useful speed.
    """
    digest = hashlib.scrypt(token.get_secret_value().encode(), salt=b"kling-mcp owner", n=2**14, r=8, p=1, dklen=12)
    return f"token:{digest.hex()}"


class StaticTokenVerifier(TokenVerifier):
    """Accepts any of a fixed set of bearer tokens, compared in constant time.

    A static token may read and create tasks (not administer); its holder owns tasks under the token's label.
    """

    def __init__(self, tokens: tuple[SecretStr, ...]) -> None:
        if not tokens:
            raise ValueError("StaticTokenVerifier needs at least one token")
        # Digests have one length, so comparing them leaks neither the tokens' lengths nor their contents.
        self._digests = tuple(hashlib.sha256(t.get_secret_value().encode()).digest() for t in tokens)
        self._owners = tuple(owner_label(t) for t in tokens)

    async def verify_token(self, token: str) -> AccessToken | None:
        """The token's identity if it is one of ours, else None (the SDK then answers 401)."""
        given = hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()
        match = 0
        for number, digest in enumerate(self._digests, start=1):
            # No early exit: every token is compared, so timing says nothing about which one matched.
            if hmac.compare_digest(given, digest):
                match = number
        if not match:
            return None
        label = f"token-{match}"
        return AccessToken(
            token=label, client_id=label, scopes=expand_scopes([GENERATE_SCOPE]), subject=self._owners[match - 1]
        )


class EitherVerifier(TokenVerifier):
    """Static tokens first (header-based clients), then OAuth access tokens from the identity provider."""

    def __init__(self, *verifiers: TokenVerifier) -> None:
        self._verifiers = verifiers

    async def verify_token(self, token: str) -> AccessToken | None:
        """The first verifier's answer that accepts the token, else None."""
        for verifier in self._verifiers:
            accepted = await verifier.verify_token(token)
            if accepted is not None:
                return accepted
        return None


def is_loopback(host: str) -> bool:
    """Whether a bind address is reachable only from this machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name other than localhost may resolve to anything


def check_exposure(http: HttpSettings, tokens: tuple[SecretStr, ...]) -> None:
    """Refuse to serve a network address without tokens or OAuth, unless the operator opted out by name."""
    if tokens or http.oauth_issuer or is_loopback(http.host):
        return
    if not http.allow_unauthenticated_network_access:
        raise HttpSecurityError(
            f"refusing to serve {http.host}:{http.port} without authentication: anyone who can reach it could spend "
            "your Kling credits. Set KLING_MCP_AUTH_TOKEN (or KLING_MCP_AUTH_TOKEN_FILE) or KLING_MCP_OAUTH_ISSUER, "
            "bind 127.0.0.1, or - only behind a proxy that authenticates for you - pass "
            f"{UNAUTHENTICATED_OPT_OUT_FLAG}."
        )
    logger.warning(
        "SERVING %s:%d WITHOUT AUTHENTICATION (%s): anyone who can reach this address can create paid Kling tasks",
        http.host,
        http.port,
        UNAUTHENTICATED_OPT_OUT_FLAG,
    )


def transport_security(http: HttpSettings) -> TransportSecuritySettings | None:
    """Host/Origin checks against DNS rebinding: loopback names on loopback, plus whatever the operator lists."""
    hosts, origins = list(http.allowed_hosts), list(http.allowed_origins)
    if is_loopback(http.host):
        hosts += LOOPBACK_HOSTS
        origins += LOOPBACK_ORIGINS
    if origins and not hosts:
        raise HttpSecurityError(
            "KLING_MCP_ALLOWED_ORIGINS is set but KLING_MCP_ALLOWED_HOSTS is not: list the host name(s) clients use "
            f"to reach {http.host}:{http.port} (e.g. mcp.example.com), or every request would be refused"
        )
    if not hosts:
        logger.warning(
            "Host/Origin checks are off for %s: set KLING_MCP_ALLOWED_HOSTS to the public host name clients use "
            "(and KLING_MCP_ALLOWED_ORIGINS for browser clients)",
            http.host,
        )
        return None
    return TransportSecuritySettings(enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins)
