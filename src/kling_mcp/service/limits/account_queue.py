"""Creates waiting, in order, while Kling's account-wide concurrency is full (1303), instead of failing at once.

Kling counts running tasks per account; over its limit a create is refused with 1303 and nothing is made, so the
same create (same external_task_id) may be sent again. The first create refused that way marks the account full;
from then on creates line up here, first come first served, and only the one at the head asks Kling, with a growing
pause, until a slot frees up (then the line moves on at once) or the caller's wait runs out (then it fails, saying
nothing was created). While the account is not full, creates pass straight through.

No create is sent (first send or resend) at or after its `send_until`, which the creator sets below the moment its
intent may be judged stale (`ServiceOptions.send_window_seconds`): once a sweep or a look-up, here or in another
replica, may have declared the intent never created ("safe to create again"), sending it could pay twice. Past it,
the create fails as refused: every earlier send, if any, was refused with 1303, so nothing was made.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable

import anyio

from kling_mcp.api.errors import CreateRefusedError, KlingAPIError, KlingConnectionError, api_error
from kling_mcp.api.models import Task

logger = logging.getLogger(__name__)

ACCOUNT_FULL = 1303
FIRST_PAUSE = 2.0
MAX_PAUSE = 30.0


class CreateNotSentError(CreateRefusedError):
    """A create never sent: its intent was too old to send safely (it may already be judged never created)."""

    def __init__(self, external_task_id: str) -> None:
        why = "its intent is older than a create may be when sent (KLING_MCP_STALE_INTENT_AFTER − 2 HTTP timeouts)"
        super().__init__(external_task_id, KlingConnectionError(why, sent=False))
        self.args = (f"The create was not sent to Kling: {why}. No task was created and nothing was billed.",)


def is_account_full(exc: BaseException) -> bool:
    """A create Kling refused because the account runs as many tasks as it may (1303): nothing was made."""
    return isinstance(exc, CreateRefusedError) and isinstance(exc.cause, KlingAPIError) and exc.cause.code == 1303


class AccountQueue:
    """One per process: the line of creates waiting for a free slot in Kling's account concurrency."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        first_pause: float = FIRST_PAUSE,
        max_pause: float = MAX_PAUSE,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._first_pause = first_pause
        self._max_pause = max_pause
        self._turn = anyio.Lock()  # first come, first served
        self.full = False
        self.queued = 0  # creates that waited in line (for tests and logs)

    async def create(
        self,
        send: Callable[[], Awaitable[Task]],
        external_task_id: str,
        deadline: float,
        *,
        send_until: float = math.inf,
    ) -> Task:
        """`send()` the create; while Kling answers 1303, wait in line and send again, until `deadline`; never send
        at or after `send_until`.

        Raises what `send` raises; after the deadline (or `send_until`), the last 1303 refusal (nothing was created),
        or `CreateNotSentError` when nothing was sent at all."""
        deadline = min(deadline, send_until)
        if not self.full:
            if self._clock() >= send_until:
                raise CreateNotSentError(external_task_id)
            try:
                return await send()
            except CreateRefusedError as exc:
                if not is_account_full(exc) or self._clock() >= deadline:
                    raise
                self.full = True
                refusal = exc
        else:
            refusal = CreateRefusedError(external_task_id, api_error(ACCOUNT_FULL, "the account has no free slot"))
        self.queued += 1
        logger.info("Kling's account concurrency is full (1303): create %s waits in line", external_task_id)
        got_turn = False
        with anyio.move_on_after(max(0.0, deadline - self._clock())):  # only the wait in line: never a send
            await self._turn.acquire()
            got_turn = True
        if not got_turn:
            raise refusal
        try:
            pause = 0.0 if not self.full else self._first_pause  # the one before us got a slot: try at once
            while True:
                await self._sleep(min(pause, max(0.0, deadline - self._clock())))
                if self._clock() >= deadline:
                    raise refusal
                try:
                    task = await send()
                except CreateRefusedError as exc:
                    if not is_account_full(exc):
                        raise
                    self.full, refusal = True, exc
                    pause = min(max(pause * 2, self._first_pause), self._max_pause)
                    continue
                self.full = False
                return task
        finally:
            self._turn.release()
