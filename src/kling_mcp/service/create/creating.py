"""Creating a task exactly once: the intent journaled before the request, every outcome journaled after it.

A create that may have reached Kling is never sent again as a new task (the client looks it up by
`external_task_id` first), and a cancelled call still learns and records the id of a task it may have paid for.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from dataclasses import dataclass
from functools import partial
from typing import Any

import anyio
import anyio.to_thread

from kling_mcp.api.client import KlingClient
from kling_mcp.api.combination import Judged
from kling_mcp.api.errors import CreateOutcomeUnknownError, CreateRefusedError
from kling_mcp.api.models import CreateBody, Endpoint, Task
from kling_mcp.service.callbacks.destinations import check_relay_target
from kling_mcp.service.create.recorder import JournalRecorder
from kling_mcp.service.describe.owners import Viewer, operator
from kling_mcp.service.describe.task_results import next_step_for
from kling_mcp.service.failures import TaskCallError, judged_refusal
from kling_mcp.service.journal import CREATE_FAILED, UNKNOWN, TaskJournal
from kling_mcp.service.journal.ledger import SpendCheck, SpendLimitReached
from kling_mcp.service.limits.account_queue import AccountQueue
from kling_mcp.service.limits.spend import SpendLimitError
from kling_mcp.service.options import ServiceOptions
from kling_mcp.service.prepare.bodies import GenerateRequest, PreparedRequest, prepare_request
from kling_mcp.service.prepare.estimates import Estimate
from kling_mcp.service.wait.waiting import Profile

logger = logging.getLogger(__name__)

# A create gets at least this long for its retries, even when the caller's wait is shorter.
MIN_CREATE_BUDGET_SECONDS = 30.0


@dataclass(frozen=True)
class Approval:
    """Why a create may spend: its estimate, and how the spend was approved (the server asks the user, or says why
    it did not). Every create takes one, so no path can create without going through the rule that makes it."""

    estimate: Estimate
    how: str  # e.g. "confirmed by the user", "not asked: KLING_MCP_CONFIRM_SPEND=off"


@dataclass(frozen=True)
class Prepared:
    """One tool call's request, prepared once (`bodies.PreparedRequest`: body, profile, notes, a local reference's
    length) for an owner who may use the elements it names. Made only by `TaskCreator.prepare`, and every create
    takes one, so no create path skips the element check or prepares the request a second time."""

    request: PreparedRequest
    owner: str


ElementCheck = Callable[[GenerateRequest, Viewer], Awaitable[None]]
"""Refuses, before anything is sent, elements the viewer may not use (`ElementService.check_usable`)."""


@dataclass(frozen=True)
class Started:
    """A task just created: where it lives, Kling's first answer, our id for it, its timing profile, and any
    warning that the journal could not record it."""

    endpoint: Endpoint
    task: Task
    external_task_id: str
    profile: Profile
    journal_warning: str | None = None


class TaskCreator:
    """Creates tasks once each, journaled before and after the create request, with inline-image bodies bounded."""

    def __init__(
        self,
        client: KlingClient,
        journal: TaskJournal,
        recorder: JournalRecorder,
        options: ServiceOptions,
        *,
        clock: Callable[[], float] = time.monotonic,
        kling_host: str | None = None,
        check_elements: ElementCheck,
    ) -> None:
        self._client = client
        self._check_elements = check_elements
        self._journal = journal
        self._recorder = recorder
        self._options = options
        self._clock = clock
        self._kling_host = kling_host
        self._uploads = anyio.CapacityLimiter(options.max_concurrent_uploads)
        # A slot frees up when a running task ends: ask again no sooner than a task's status is polled.
        self._account = AccountQueue(clock=clock, first_pause=options.schedule.min_interval)

    @asynccontextmanager
    async def prepare(self, request: GenerateRequest, viewer: Viewer | None = None) -> AsyncIterator[Prepared]:
        """The request prepared once for this call (default viewer: the local operator): the elements it names
        checked as the viewer's to use (one journal query), then every local rule checked, the capability table
        asked once and each local file read once, in a worker thread. The estimate, the user's question and the
        create all use what this yields; nothing is sent.

        A request with inline images holds one of the bounded upload slots for the whole block (bodies are
        megabytes each): the block is to end once the create is sent, and its body is dropped with it."""
        viewer = viewer or operator()
        await self._check_elements(request, viewer)
        limiter: AbstractAsyncContextManager[Any] = self._uploads if request.carries_inline_images else nullcontext()
        async with limiter:
            prepared = await anyio.to_thread.run_sync(prepare_request, request, self._options)
            yield Prepared(prepared, viewer.owner)

    async def start(
        self,
        prepared: Prepared,
        *,
        approval: Approval,
        create_deadline: float | None = None,
        wait_deadline: float | None = None,
    ) -> Started:
        """Create the prepared task once (owned by its owner), journaled before and after the create request, with
        its `approval`'s estimate; does not wait for the video. Call it inside the `prepare` block that made it.

        Refused before anything is sent if the intent cannot be journaled (`JournalUnavailableError`); after the
        create request may have left, every failure is a `TaskCallError` naming the task's ids.
        """
        if create_deadline is None:
            create_deadline = self._clock() + MIN_CREATE_BUDGET_SECONDS
        # How long a create may wait in line for Kling's account concurrency: as long as its caller waits.
        in_line_until = create_deadline if wait_deadline is None else min(create_deadline, wait_deadline)
        options, ready = self._options, prepared.request
        request = ready.request
        await check_relay_target(
            request.callback_url, relayed=options.callback_url_for is not None, allow_private=options.relay_to_private
        )
        entry = ready.entry
        entry.kling_host = self._kling_host
        entry.owner = prepared.owner
        entry.estimated_units = approval.estimate.units
        entry.spend_approval = approval.how
        endpoint, external_id = ready.endpoint, entry.external_task_id
        spend = SpendCheck(options.spend_limit, approval.estimate.units)  # the estimate the user approved
        # Taken before the intent is written (so before its created_at): no send once it may be judged stale.
        send_until = self._clock() + options.send_window_seconds
        try:  # refuses the call, before any request, if it cannot be journaled or would pass the spend limit
            await self._recorder.intent(entry, spend)
        except SpendLimitReached as exc:
            raise SpendLimitError(exc.spending, exc.estimate) from None
        # Shielded: a cancelled call must still learn and record the id of a task it may have paid for.
        with anyio.CancelScope(shield=True):
            judged = (ready.judged, request.model) if ready.judged else None
            task, warning = await self._create(
                endpoint, ready.body, external_id, (create_deadline, in_line_until, send_until), judged
            )
        logger.info("created Kling task %s (%s, %s)", task.task_id, request.model, endpoint)
        profile = (request.model, request.mode, request.effective_duration)
        return Started(endpoint, task, external_id, profile, warning)

    async def _create(
        self,
        endpoint: Endpoint,
        body: CreateBody,
        external_id: str,
        deadlines: tuple[float, float, float],
        judged: tuple[Judged, str] | None = None,
    ) -> tuple[Task, str | None]:
        """The created task and any journal warning; refused and unknown outcomes are journaled and raised with ids.

        `deadlines`: the create's own (its retries), until when it may wait in line while Kling's account
        concurrency is full (`service/limits/account_queue.py`), and after when it is never sent (its intent may be
        judged stale: `ServiceOptions.send_window_seconds`); the retries of a send stop there too.

        `judged`: what the capability table left to Kling, and the model, to explain a refusal by it."""
        deadline, in_line_until, send_until = deadlines
        send = partial(self._client.create_task, endpoint, body, deadline=min(deadline, send_until))
        try:  # while Kling's account concurrency is full (1303), in line with the other creates, while the caller waits
            task = await self._account.create(send, external_id, in_line_until, send_until=send_until)
        except (CreateRefusedError, CreateOutcomeUnknownError) as exc:
            status = CREATE_FAILED if isinstance(exc, CreateRefusedError) else UNKNOWN
            write = partial(self._journal.record_status, external_id, status, str(exc))
            reason = str(exc)
            if isinstance(exc, CreateRefusedError) and judged is not None:
                reason = judged_refusal(exc.cause, *judged) or reason
            raise TaskCallError(
                reason,
                external_task_id=external_id,
                status=status,
                next_step=next_step_for(status, None, external_id),
                journal_warning=await self._recorder.write(external_id, write),
            ) from exc
        write = partial(self._journal.record_task, task, external_id, endpoint, self._kling_host)
        return task, await self._recorder.write(external_id, write)
