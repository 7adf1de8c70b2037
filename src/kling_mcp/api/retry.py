"""When and how long to wait before sending a request to Kling again. All the numbers live here."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from tenacity import RetryCallState

from kling_mcp.api.errors import (
    KlingAPIError,
    KlingConnectionError,
    KlingProtocolError,
    KlingRateLimitError,
    KlingServerError,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter, honouring Kling's Retry-After up to a cap."""

    max_attempts: int = 6
    initial_backoff: float = 1.0
    min_rate_limit_backoff: float = 1.0  # Kling advises waiting at least 1 s after 1302/1303
    max_backoff: float = 20.0
    max_retry_after: float = 30.0

    def backoff(self, attempt: int, rng: Callable[[], float] = random.random) -> float:
        """Seconds to wait after the given (1-based) failed attempt, before any Retry-After."""
        ceiling = min(self.max_backoff, self.initial_backoff * 2 ** (attempt - 1))
        # Half fixed, half random: spreads retries of many callers without ever retrying instantly.
        return float(ceiling / 2 + rng() * ceiling / 2)


DEFAULT_RETRY_POLICY = RetryPolicy()
# For a person waiting at a terminal (`kling-mcp check`): one more try, then say what is wrong.
QUICK_RETRY_POLICY = RetryPolicy(max_attempts=2, initial_backoff=0.5, max_backoff=2.0, max_retry_after=5.0)


def is_transient(exc: BaseException) -> bool:
    """Errors worth another try: no answer, Kling 5xx / 5000–5002, rate limits 1302/1303, an unreadable answer.

    A create is never simply re-sent after one of these: the client first looks the task up (see
    `api/errors.nothing_created`).
    A refused connection is not among them: a wrong KLING_API_BASE_URL (or a dead proxy) does not mend in the
    seconds a retry waits, and retrying kept a tool call silent for half a minute (`kling-mcp check` knew at once).
    """
    if isinstance(exc, KlingConnectionError) and exc.refused:
        return False
    return isinstance(exc, KlingConnectionError | KlingServerError | KlingRateLimitError | KlingProtocolError)


def is_refused(exc: BaseException) -> bool:
    """The connection was refused: nothing was sent (see `KlingConnectionError.refused`)."""
    return isinstance(exc, KlingConnectionError) and exc.refused


def make_wait(policy: RetryPolicy) -> Callable[[RetryCallState], float]:
    """A tenacity wait function using the policy and any Retry-After the error carried."""

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        delay = policy.backoff(state.attempt_number)
        if isinstance(exc, KlingRateLimitError):
            delay = max(delay, policy.min_rate_limit_backoff)
        if isinstance(exc, KlingAPIError) and exc.retry_after is not None:
            delay = max(delay, min(exc.retry_after, policy.max_retry_after))
        return delay

    return wait


def make_stop(
    policy: RetryPolicy, deadline: float | None, clock: Callable[[], float] = time.monotonic
) -> Callable[[RetryCallState], bool]:
    """Stop after max_attempts, or when the next wait would end past the caller's deadline."""

    def stop(state: RetryCallState) -> bool:
        if state.attempt_number >= policy.max_attempts:
            return True
        return deadline is not None and clock() + (state.upcoming_sleep or 0.0) > deadline

    return stop


def log_retry(state: RetryCallState) -> None:
    """Log at debug why a request is being sent again (never any header or token)."""
    exc = state.outcome.exception() if state.outcome is not None else None
    logger.debug(
        "retrying Kling request after attempt %d in %.2fs: %s: %s",
        state.attempt_number,
        state.upcoming_sleep or 0.0,
        type(exc).__name__,
        exc,
    )
