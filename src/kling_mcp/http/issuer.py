"""The identity provider as a resource server sees it: its metadata (discovered, checked) and its signing keys.

Keys are cached; a token signed with a key id the cache lacks makes the cache refetch the key set (the provider
rotated its keys), at most once per cooldown, so tokens with made-up key ids cannot turn this server into a
flood of requests to the provider.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx

logger = logging.getLogger(__name__)

KEYS_MAX_AGE_SECONDS = 3600.0  # keys are refetched at least this often, so a withdrawn key stops working
REFETCH_COOLDOWN_SECONDS = 30.0  # at most one refetch for an unknown key id per this long
RETRY_AFTER_FAILURE_SECONDS = 30.0  # after the provider could not be reached, requests wait this long to try again


class IssuerError(Exception):
    """The identity provider could not be reached or answered something unusable; the message says which."""


def is_loopback_url(url: str) -> bool:
    """Whether the URL points at this machine (plain http is acceptable there and only there)."""
    host = (urlsplit(url).hostname or "").lower()
    return host in ("localhost", "::1") or host.startswith("127.")


def check_secure_url(url: str, what: str) -> None:
    """Refuse anything but https, except on loopback (OAuth 2.1 requires TLS for every endpoint)."""
    parts = urlsplit(url)
    if parts.scheme == "https" or (parts.scheme == "http" and is_loopback_url(url)):
        return
    raise IssuerError(f"{what} must be an https URL (plain http only on loopback); got {url!r}")


def discovery_urls(issuer: str) -> list[str]:
    """Where the issuer's metadata may be, in the order the MCP authorization spec gives (RFC 8414, then OIDC)."""
    parts = urlsplit(issuer)
    origin = f"{parts.scheme}://{parts.netloc}"
    path = parts.path.rstrip("/")
    if not path:
        return [f"{origin}/.well-known/oauth-authorization-server", f"{origin}/.well-known/openid-configuration"]
    return [
        f"{origin}/.well-known/oauth-authorization-server{path}",
        f"{origin}/.well-known/openid-configuration{path}",
        f"{origin}{path}/.well-known/openid-configuration",
    ]


def json_object(response: httpx.Response, url: str) -> dict[str, Any]:
    """The JSON object an identity provider answered with; `IssuerError` for anything else."""
    try:
        document = response.json()
    except ValueError:
        raise IssuerError(f"{url} did not answer JSON") from None
    if not isinstance(document, dict):
        raise IssuerError(f"{url} did not answer a JSON object")
    return document


@dataclass(frozen=True)
class IssuerMetadata:
    """What the resource server needs from the provider's metadata."""

    issuer: str
    jwks_uri: str | None
    introspection_endpoint: str | None


class Issuer:
    """One identity provider: its metadata, discovered once, and its signing keys, cached and refetched on rotation."""

    def __init__(
        self,
        issuer: str,
        http: httpx.AsyncClient,
        *,
        clock: Callable[[], float] = time.monotonic,
        cooldown: float = REFETCH_COOLDOWN_SECONDS,
        max_age: float = KEYS_MAX_AGE_SECONDS,
    ) -> None:
        self.issuer = issuer
        self.http = http
        self._clock = clock
        self._cooldown = cooldown
        self._max_age = max_age
        self._metadata: IssuerMetadata | None = None
        self._failed_at: float | None = None  # when the provider last failed before any keys were known
        self._keys: dict[str | None, dict[str, Any]] = {}
        self._keys_fetched_at: float | None = None
        self._last_refetch: float | None = None
        self._lock = anyio.Lock()

    async def _get_json(self, url: str) -> dict[str, Any] | None:
        """The JSON object at `url`, None on 404; `IssuerError` for anything else that is not a JSON object."""
        try:
            response = await self.http.get(url, headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise IssuerError(f"cannot reach {url}: {exc.__class__.__name__}") from None
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise IssuerError(f"{url} answered HTTP {response.status_code}")
        return json_object(response, url)

    async def metadata(self) -> IssuerMetadata:
        """The provider's metadata, discovered on first use (and retried after a pause if that failed)."""
        if self._metadata is not None:
            return self._metadata
        async with self._lock:
            return await self._metadata_locked()

    async def _metadata_locked(self) -> IssuerMetadata:
        # Called with the lock held (anyio locks are not reentrant).
        if self._metadata is not None:
            return self._metadata
        now = self._clock()
        if self._failed_at is not None and now - self._failed_at < RETRY_AFTER_FAILURE_SECONDS:
            raise IssuerError(f"{self.issuer} could not be reached a moment ago; trying again shortly")
        try:
            self._metadata = await self._discover()
        except IssuerError:
            self._failed_at = now
            raise
        return self._metadata

    async def _discover(self) -> IssuerMetadata:
        for url in discovery_urls(self.issuer):
            document = await self._get_json(url)
            if document is None:
                continue
            # RFC 8414 §3.3 / OIDC Discovery §4.3: a document naming another issuer must not be used.
            if document.get("issuer") != self.issuer:
                raise IssuerError(f"{url} names issuer {document.get('issuer')!r}, not {self.issuer!r}")
            metadata = IssuerMetadata(
                issuer=self.issuer,
                jwks_uri=_optional_url(document, "jwks_uri"),
                introspection_endpoint=_optional_url(document, "introspection_endpoint"),
            )
            logger.info("OAuth issuer %s: keys at %s", self.issuer, metadata.jwks_uri)
            return metadata
        raise IssuerError(
            f"no authorization server metadata for {self.issuer} at {', '.join(discovery_urls(self.issuer))}"
        )

    async def signing_key(self, kid: str | None) -> dict[str, Any] | None:
        """The JWK with this key id (or the only key, for a token without one); None if the provider has none."""
        now = self._clock()
        if self._keys_fetched_at is None or now - self._keys_fetched_at > self._max_age:
            await self._refresh(now, forced=False)
        key = self._lookup(kid)
        if key is None and self._may_refetch(now):
            await self._refresh(now, forced=True)  # a key id we do not know: the provider may have rotated
            key = self._lookup(kid)
        return key

    def _may_refetch(self, now: float) -> bool:
        return self._last_refetch is None or now - self._last_refetch >= self._cooldown

    def _lookup(self, kid: str | None) -> dict[str, Any] | None:
        if kid is not None:
            return self._keys.get(kid)
        keys = list(self._keys.values())
        return keys[0] if len(keys) == 1 else None  # without a key id only an unambiguous key will do

    async def _refresh(self, now: float, *, forced: bool) -> None:
        async with self._lock:
            if forced:
                if not self._may_refetch(now):
                    return  # another request refetched meanwhile
                self._last_refetch = now
            elif self._keys_fetched_at is not None and now - self._keys_fetched_at <= self._max_age:
                return
            never_fetched = self._keys_fetched_at is None
            if never_fetched and self._failed_at is not None and now - self._failed_at < RETRY_AFTER_FAILURE_SECONDS:
                raise IssuerError(f"{self.issuer} could not be reached a moment ago; trying again shortly")
            try:
                self._keys = await self._fetch_keys()
            except IssuerError as exc:
                if self._keys_fetched_at is None:
                    self._failed_at = now
                    raise
                logger.warning("could not refresh the signing keys of %s (keeping the old ones): %s", self.issuer, exc)
                # Try again after the pause, not on every request while the provider is down.
                self._keys_fetched_at = now - self._max_age + RETRY_AFTER_FAILURE_SECONDS
                return
            self._keys_fetched_at = now

    async def _fetch_keys(self) -> dict[str | None, dict[str, Any]]:
        metadata = await self._metadata_locked()
        if metadata.jwks_uri is None:
            raise IssuerError(f"the metadata of {self.issuer} has no jwks_uri: it cannot sign JWT access tokens")
        document = await self._get_json(metadata.jwks_uri)
        raw = document.get("keys") if document else None
        if not isinstance(raw, list):
            raise IssuerError(f"{metadata.jwks_uri} is not a JWK set")
        keys = {
            key.get("kid"): key
            for key in raw
            if isinstance(key, dict) and key.get("use", "sig") == "sig" and key.get("kty") in ("RSA", "EC", "OKP")
        }
        logger.info("fetched %d signing key(s) of %s", len(keys), self.issuer)
        return keys


def _optional_url(document: dict[str, Any], name: str) -> str | None:
    value = document.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise IssuerError(f"the issuer's metadata field {name} is not a URL")
    check_secure_url(value, name)
    return value
