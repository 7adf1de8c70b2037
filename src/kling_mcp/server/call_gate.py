"""The door every tool call passes: a cap on calls running at once, and the drain that graceful shutdown waits on."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import anyio
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.extension import Extension
from mcp_types import CallToolRequestParams, CallToolResult, TextContent

from kling_mcp.server.access import caller_for, token_of
from kling_mcp.server.descriptions import GET_TOOL, LIST_TOOL

logger = logging.getLogger(__name__)

_IDLE_POLL_SECONDS = 0.05
# After the grace period, how long waiting calls get to answer with their task ids before they are cancelled.
WRAP_UP_SECONDS = 3.0

BUSY_MESSAGE = (
    "kling-mcp is busy: {limit} tool calls are already running on this server (KLING_MCP_MAX_CONCURRENT_CALLS). "
    "This call did nothing: no Kling task was created and nothing was billed. Wait a few seconds and call again."
)
OWNER_BUSY_MESSAGE = (
    "kling-mcp is busy for {owner}: {limit} of this caller's tool calls and MCP task waits are already running "
    "(KLING_MCP_MAX_CALLS_PER_OWNER), and the server keeps the other slots for other callers. This call did nothing: "
    "no Kling task was created and nothing was billed. Wait for one of them to finish, then call again."
)
DRAINING_MESSAGE = (
    "kling-mcp is shutting down and takes no new calls. This call did nothing: no Kling task was created and "
    "nothing was billed. Call again in a moment (another replica, or this server after its restart, will answer)."
)
CUT_SHORT_MESSAGE = (
    "kling-mcp shut down before this call finished. Any Kling task it created keeps running at Kling and its id is "
    f"in the task journal: call {LIST_TOOL}, then {GET_TOOL} with the task_id. Do not generate again."
)


def fair_share(limit: int) -> int:
    """One owner's default share of the process's call slots: a quarter, at least one."""
    return max(1, limit // 4)


class OwnerBusyError(Exception):
    """One owner already has its share of call slots running; nothing was done."""

    def __init__(self, owner: str, limit: int) -> None:
        self.owner = owner
        super().__init__(OWNER_BUSY_MESSAGE.format(owner=owner, limit=limit))


def _refusal(text: str) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)


class CallGate(Extension):
    """Admits at most `limit` tool calls at once; refuses the rest with a tool error instead of queueing them.

    On shutdown, `drain()` refuses new calls, lets running ones finish for a grace period, then cancels the rest
    (a create in flight is shielded in the service, so its task id still reaches the journal) and waits for them.
    """

    identifier = "io.github.kling-mcp/call-gate"

    def __init__(
        self, limit: int, wrap_up: Callable[[], object] | None = None, *, per_owner: int | None = None
    ) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self.per_owner = min(limit, per_owner or fair_share(limit))
        self._owners: dict[str, int] = {}
        self.wrap_up = wrap_up  # asks running calls to answer now (with their task id) before any is cancelled
        self.draining = False
        self._scopes: set[anyio.CancelScope] = set()

    @property
    def in_flight(self) -> int:
        """How many tool calls are running now."""
        return len(self._scopes)

    def settings(self) -> dict[str, Any]:
        """Advertised to clients under capabilities.extensions."""
        return {"maxConcurrentToolCalls": self.limit, "maxConcurrentToolCallsPerOwner": self.per_owner}

    @contextmanager
    def owner_slot(self, owner: str) -> Iterator[None]:
        """Hold one of `owner`'s slots (a tool call, or a `tasks/result` wait); `OwnerBusyError` if none is free."""
        if not self._claim(owner):
            raise OwnerBusyError(owner, self.per_owner)
        try:
            yield
        finally:
            self._release(owner)

    def _claim(self, owner: str) -> bool:
        if self._owners.get(owner, 0) >= self.per_owner:
            logger.warning("refused a call of %s: %d of its calls already running (its share)", owner, self.per_owner)
            return False
        self._owners[owner] = self._owners.get(owner, 0) + 1
        return True

    def _release(self, owner: str) -> None:
        self._owners[owner] -= 1
        if not self._owners[owner]:
            del self._owners[owner]

    async def intercept_tool_call(
        self, params: CallToolRequestParams, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        """Run the call if there is room and the server is not draining; refuse it clearly otherwise."""
        if self.draining:
            return _refusal(DRAINING_MESSAGE)
        if len(self._scopes) >= self.limit:
            logger.warning("refused %s: %d tool calls already running (the limit)", params.name, self.limit)
            return _refusal(BUSY_MESSAGE.format(limit=self.limit))
        owner = caller_for(token_of(ctx.request)).viewer.owner
        if not self._claim(owner):
            return _refusal(OWNER_BUSY_MESSAGE.format(owner=owner, limit=self.per_owner))
        try:
            with anyio.CancelScope() as scope:
                self._scopes.add(scope)
                try:
                    return await call_next(ctx)
                finally:
                    self._scopes.discard(scope)
        finally:
            self._release(owner)
        return _refusal(CUT_SHORT_MESSAGE)  # reached only when drain() cancelled the call

    async def wait_idle(self, timeout: float, *, give_up: Callable[[], bool] | None = None) -> bool:
        """Wait until no call runs, at most `timeout` seconds; True if idle. `give_up()` true ends the wait early."""
        deadline = time.monotonic() + timeout
        while self._scopes and time.monotonic() < deadline:
            if give_up is not None and give_up():
                break
            await anyio.sleep(min(_IDLE_POLL_SECONDS, max(0.0, deadline - time.monotonic())))
        return not self._scopes

    async def drain(
        self, grace_seconds: float, hard_limit_seconds: float, *, give_up: Callable[[], bool] | None = None
    ) -> None:
        """Refuse new calls; give running ones `grace_seconds`; cancel the rest and wait up to `hard_limit_seconds`."""
        self.draining = True
        if not self._scopes:
            return
        logger.warning("draining: waiting up to %.0f s for %d running tool call(s)", grace_seconds, len(self._scopes))
        if await self.wait_idle(grace_seconds, give_up=give_up):
            logger.info("all tool calls finished")
            return
        if self.wrap_up is not None:
            self.wrap_up()
            if await self.wait_idle(WRAP_UP_SECONDS, give_up=give_up):
                logger.warning("grace period over: the waiting tool calls answered with their task ids")
                return
        logger.warning(
            "grace period over: cancelling %d tool call(s); the tasks they created stay in the journal",
            len(self._scopes),
        )
        for scope in list(self._scopes):
            scope.cancel()
        # A cancelled call still finishes its shielded create and journal write; wait for that.
        if not await self.wait_idle(hard_limit_seconds, give_up=give_up):
            logger.error("%d tool call(s) still running at exit", len(self._scopes))
