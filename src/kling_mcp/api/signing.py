"""Kling's request signing: a short-lived HS256 JWT with the access key as issuer, cached until near expiry."""

from __future__ import annotations

import logging
import threading
import time
import warnings
from collections.abc import Callable

import jwt
from pydantic import SecretStr

logger = logging.getLogger(__name__)

TOKEN_LIFETIME_SECONDS = 1800
NOT_BEFORE_SKEW_SECONDS = 5
# Re-sign this long before `exp` so a token never expires between signing and Kling reading it.
RESIGN_MARGIN_SECONDS = 300
# HS256 keys shorter than its digest are weak (RFC 7518 §3.2); pyjwt warns about them on every signature.
MIN_SECRET_BYTES = 32


class JwtSigner:
    """Signs and caches the bearer token; `invalidate()` forces a fresh one (after Kling's 1003/1004)."""

    def __init__(self, access_key: str, secret_key: SecretStr, clock: Callable[[], float] = time.time) -> None:
        self._access_key = access_key
        self._secret_key = secret_key
        self._clock = clock
        self._token: str | None = None
        self._expires_at = 0.0
        self._issued = 0
        self._lock = threading.Lock()
        length = len(secret_key.get_secret_value().encode())
        self._short_key = length < MIN_SECRET_BYTES
        if self._short_key:
            # Said once, in words that lead somewhere; Kling decides whether it accepts the key.
            logger.warning(
                "KLING_SECRET_KEY is only %d bytes long (a secure HS256 key has at least %d): check that it was "
                "copied whole from https://app.klingai.com/global/dev",
                length,
                MIN_SECRET_BYTES,
            )

    def __repr__(self) -> str:
        return f"JwtSigner(access_key={self._access_key[:4]}…)"

    def token(self) -> str:
        """A valid token, re-signed when fewer than RESIGN_MARGIN_SECONDS remain."""
        now = self._clock()
        with self._lock:
            if self._token is None or now >= self._expires_at - RESIGN_MARGIN_SECONDS:
                # Never the same issue second twice (a token re-signed after Kling refused one must differ from it),
                # and never so far ahead that `nbf` would lie in the future.
                issued = min(max(int(now), self._issued + 1), int(now) + NOT_BEFORE_SKEW_SECONDS - 1)
                self._issued = issued
                self._expires_at = issued + TOKEN_LIFETIME_SECONDS
                self._token = self._sign(
                    {"iss": self._access_key, "exp": self._expires_at, "nbf": issued - NOT_BEFORE_SKEW_SECONDS}
                )
            return self._token

    def _sign(self, claims: dict[str, object]) -> str:
        def encode() -> str:
            return jwt.encode(claims, self._secret_key.get_secret_value(), algorithm="HS256", headers={"typ": "JWT"})

        if not self._short_key:
            return encode()
        with warnings.catch_warnings():
            # Said once when the signer was made (above); pyjwt would repeat it on stderr with every token.
            warnings.simplefilter("ignore", jwt.InsecureKeyLengthWarning)
            return encode()

    def invalidate(self, refused: str | None = None) -> None:
        """Drop the cached token so the next request signs a new one.

        With `refused`, only if that is still the cached token: when many concurrent requests are refused with the
        same token, it is re-signed once, not once per request.
        """
        with self._lock:
            if refused is None or refused == self._token:
                self._token = None
