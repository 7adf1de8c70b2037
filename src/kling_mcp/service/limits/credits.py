"""The account's credits: its resource packs from Kling's `GET /account/costs`, paced and cached for the process.

The query is free but Kling allows at most one a second, so every caller of this process shares one reader: queries
take turns, at least `MIN_INTERVAL` apart, and an answer is reused for `CACHE_SECONDS`. Kling's remaining figure lags
up to 12 hours, so a cache of a minute loses nothing a caller could see.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import anyio
from pydantic import BaseModel, Field

from kling_mcp.api.account import ResourcePack
from kling_mcp.api.client import KlingClient
from kling_mcp.api.errors import KlingRateLimitError

MIN_INTERVAL = 1.0
CACHE_SECONDS = 60.0
# Kling lists only the packs purchased within the asked window: ask from far enough back to include every valid one.
LOOKBACK_SECONDS = 3 * 366 * 24 * 3600.0
LAG_NOTE = (
    "Kling's remaining figures lag up to 12 hours behind what was spent; tasks created since may not show yet. "
    "When the online packs run out, creates fail with Kling error 1102 and nothing is created: top up at Kling."
)


def _iso(ms: int | None) -> str | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds")


class PackView(BaseModel):
    """One resource pack, as the credits tool shows it."""

    name: str
    pack_id: str
    type: str | None = None
    status: str | None = Field(None, description="toBeOnline, online, expired or runOut.")
    total_units: float
    remaining_units: float
    effective_at: str | None = None
    expires_at: str | None = None


class OwnerSpend(BaseModel):
    """The caller's own spend in the last 24 h and the limit that applies (None: no limit)."""

    owner: str
    spent_units: float
    limit_units: float | None = None


class CreditsOutput(BaseModel):
    """The account's resource packs and what is left in the online ones, with the caller's own spend."""

    remaining_units: float = Field(description="Units left in the packs that are online (lags up to 12 h).")
    packs: list[PackView]
    checked_at: str = Field(description="When Kling was asked (UTC); answers are reused for up to a minute.")
    your_spend: OwnerSpend | None = None
    note: str = LAG_NOTE


def _view(pack: ResourcePack) -> PackView:
    return PackView(
        name=pack.resource_pack_name,
        pack_id=pack.resource_pack_id,
        type=pack.resource_pack_type,
        status=pack.status,
        total_units=pack.total_quantity,
        remaining_units=pack.remaining_quantity,
        effective_at=_iso(pack.effective_time),
        expires_at=_iso(pack.invalid_time),
    )


class CreditsReader:
    """One per process: the account's packs, queried at most once per `min_interval` and cached `cache_seconds`."""

    def __init__(
        self,
        client: KlingClient,
        *,
        min_interval: float = MIN_INTERVAL,
        cache_seconds: float = CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        self._client = client
        self._min_interval = min_interval
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._wall_clock = wall_clock
        self._sleep = sleep
        self._lock = anyio.Lock()
        self._last_query: float | None = None
        self._cached: tuple[float, CreditsOutput] | None = None
        self.queries = 0  # how many times Kling was asked (for tests and the benchmark)

    async def read(self) -> CreditsOutput:
        """The account's packs: cached if fresh, else asked of Kling once (callers arriving meanwhile share it)."""
        async with self._lock:
            if self._cached is not None and self._clock() - self._cached[0] < self._cache_seconds:
                return self._cached[1]
            if self._last_query is not None:
                wait = self._last_query + self._min_interval - self._clock()
                if wait > 0:
                    await self._sleep(wait)
            self._last_query = self._clock()
            now = self._wall_clock()
            self.queries += 1
            try:
                packs = await self._client.account_packs(
                    start_ms=int((now - LOOKBACK_SECONDS) * 1000), end_ms=int((now + 24 * 3600) * 1000)
                )
            except KlingRateLimitError:
                if self._cached is not None:  # another process of this account asked just now: the last answer
                    return self._cached[1]
                raise
            credits = CreditsOutput(
                remaining_units=round(sum(p.remaining_quantity for p in packs if p.status == "online"), 3),
                packs=[_view(p) for p in packs],
                checked_at=datetime.fromtimestamp(now, UTC).isoformat(timespec="seconds"),
            )
            self._cached = (self._clock(), credits)
            return credits
