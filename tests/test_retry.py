"""The retry policy's numbers: backoff bounds, Kling's 1 s advice after rate limits, Retry-After with a cap."""

from __future__ import annotations

from tenacity import RetryCallState

from kling_mcp.api.errors import KlingConnectionError, KlingRateLimitError, KlingServerError, api_error, nothing_created
from kling_mcp.api.retry import RetryPolicy, is_transient, make_stop, make_wait

POLICY = RetryPolicy()


def _state(exc: BaseException, attempt: int) -> RetryCallState:
    state = RetryCallState(retry_object=None, fn=None, args=(), kwargs={})  # type: ignore[arg-type]
    state.attempt_number = attempt
    state.set_exception((type(exc), exc, None))
    return state


def test_backoff_doubles_within_bounds() -> None:
    for attempt in range(1, 10):
        ceiling = min(POLICY.max_backoff, POLICY.initial_backoff * 2 ** (attempt - 1))
        assert ceiling / 2 <= POLICY.backoff(attempt, lambda: 0.0) <= POLICY.backoff(attempt, lambda: 1.0) <= ceiling


def test_rate_limit_waits_at_least_a_second_and_honours_retry_after_up_to_the_cap() -> None:
    wait = make_wait(POLICY)
    assert wait(_state(api_error(1303, "limit", http_status=429), 1)) >= 1.0
    assert wait(_state(api_error(1302, "limit", http_status=429, retry_after=7), 1)) >= 7
    assert wait(_state(api_error(1302, "limit", http_status=429, retry_after=3600), 1)) == POLICY.max_retry_after


def test_which_errors_are_retried_and_which_leave_the_outcome_unknown() -> None:
    assert is_transient(api_error(5001, "maintenance", http_status=503))
    assert is_transient(api_error(1303, "limit", http_status=429))
    assert is_transient(KlingConnectionError("connect timeout", sent=False))
    assert not is_transient(KlingConnectionError("refused", sent=False, refused=True)), "a wrong host: say so now"
    assert is_transient(KlingConnectionError("reset", sent=True, refused=True)), "refused means the connect phase"
    for code in (1000, 1101, 1102, 1103, 1201, 1301, 1304):
        assert not is_transient(api_error(code, "no", http_status=400)), code
    assert not nothing_created(KlingConnectionError("reset", sent=True))
    assert nothing_created(KlingConnectionError("refused", sent=False))
    assert not nothing_created(KlingServerError(5000, "boom"))
    assert nothing_created(KlingRateLimitError(1303, "limit"))


def test_stop_respects_attempts_and_the_deadline() -> None:
    now = 100.0
    stop = make_stop(POLICY, deadline=105.0, clock=lambda: now)
    state = _state(KlingServerError(5000, "boom"), 1)
    state.upcoming_sleep = 2.0
    assert not stop(state)
    state.upcoming_sleep = 6.0
    assert stop(state), "a wait that ends past the deadline is not taken"
    state.upcoming_sleep, state.attempt_number = 0.1, POLICY.max_attempts
    assert stop(state)
