"""Keeping unauthenticated traffic from reaching the identity provider: introspection is rate-limited per client
address, and "not active" answers are remembered briefly.

Without this every junk bearer value is one POST to the provider's introspection endpoint with our own client
credentials; a flood could make the provider throttle or lock that client, and then no real user could sign in.
Tokens already known (a cached answer, good or bad) cost nothing; only a POST takes from the caller's bucket, and an
address whose bucket is empty gets `429` (with `Retry-After`) for tokens we would have to ask about, while every other
address goes on as before. The address is the one uvicorn reports: the peer, or `X-Forwarded-For` from a proxy it
trusts (uvicorn's `FORWARDED_ALLOW_IPS`, loopback by default).
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Addresses with a bucket at once; beyond this, full buckets are forgotten first (they hold nothing), then the oldest.
MAX_ADDRESSES = 10_000
NEGATIVE_CACHE_SIZE = 4096  # "not active" answers remembered at once; the oldest go first
BODY = {"error": "too_many_requests", "error_description": "Too many unknown access tokens from this address"}


def token_digest(token: str) -> bytes:
    """What caches key a token by: its SHA-256, never the token itself."""
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()


@dataclass
class Attempt:
    """One HTTP request's authentication, as the throttle sees it: who sent it, and whether it was turned away."""

    address: str
    retry_after: float | None = None


_attempt: contextvars.ContextVar[Attempt | None] = contextvars.ContextVar("introspection_attempt", default=None)


def current_attempt() -> Attempt | None:
    """The request being authenticated now (None outside an HTTP request)."""
    return _attempt.get()


class IntrospectionThrottle:
    """A token bucket per client address for introspection POSTs: `per_minute` at once, refilled at that rate."""

    def __init__(self, per_minute: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = float(per_minute)
        self._rate = per_minute / 60.0
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # address → (tokens, when counted)

    def take(self, address: str) -> float | None:
        """Spend one introspection for this address: None if allowed, else the seconds until the next is."""
        now = self._clock()
        tokens, counted = self._buckets.pop(address, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - counted) * self._rate)
        if tokens < 1.0:
            self._buckets[address] = (tokens, now)
            return (1.0 - tokens) / self._rate
        if len(self._buckets) >= MAX_ADDRESSES:
            self._forget(now)
        self._buckets[address] = (tokens - 1.0, now)  # re-inserted: the dict stays ordered by last use
        return None

    def _forget(self, now: float) -> None:
        full_again = [a for a, (t, c) in self._buckets.items() if t + (now - c) * self._rate >= self.capacity]
        for address in full_again:
            del self._buckets[address]
        while len(self._buckets) >= MAX_ADDRESSES:
            del self._buckets[next(iter(self._buckets))]


class NegativeCache:
    """Tokens the provider called not active (by digest), each remembered for `seconds`, at most `size` at once."""

    def __init__(
        self, seconds: float, *, size: int = NEGATIVE_CACHE_SIZE, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.seconds = seconds
        self.size = size
        self._clock = clock
        self._until: dict[bytes, float] = {}

    def refused(self, digest: bytes) -> bool:
        """Whether this token was refused within the last `seconds`."""
        until = self._until.get(digest)
        if until is None:
            return False
        if until <= self._clock():
            del self._until[digest]
            return False
        return True

    def remember(self, digest: bytes) -> None:
        """Refuse this token without asking again for a while."""
        if self.seconds <= 0:
            return
        now = self._clock()
        if len(self._until) >= self.size:
            self._until = {k: v for k, v in self._until.items() if v > now}
            while len(self._until) >= self.size:
                del self._until[next(iter(self._until))]
        self._until.pop(digest, None)
        self._until[digest] = now + self.seconds


class ThrottleResponses:
    """ASGI middleware: records the client address for the throttle, and turns the 401 of a request it turned away
    into `429 Too Many Requests` with `Retry-After` (the token was not judged: a client should wait, not sign in)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        attempt = Attempt(address=str(client[0]) if client else "unknown")
        token = _attempt.set(attempt)
        replacing = False

        async def send_maybe_429(message: Message) -> None:
            nonlocal replacing
            if message["type"] == "http.response.start" and message["status"] == 401 and attempt.retry_after:
                replacing = True
                body = json.dumps(BODY).encode()
                headers = [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"retry-after", str(max(1, math.ceil(attempt.retry_after))).encode()),
                ]
                await send({"type": "http.response.start", "status": 429, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
            if replacing:
                return  # the 401's body: ours has been sent
            await send(message)

        try:
            await self.app(scope, receive, send_maybe_429)
        finally:
            _attempt.reset(token)
