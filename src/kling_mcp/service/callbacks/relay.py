"""What a received Kling callback sets off (its address, checked first, is `addresses.py`'s), and the relay.

A callback is a hint, never the result: one saying the task finished wakes the calls waiting for it, and each of
them confirms with one status query. The caller's own `callback_url` still hears from Kling through a relay, which
is no more trusting: what it sends is Kling's answer to its own query of the task the address belongs to (never the
received body, which a replay or a body about another task could fill), once per status, across replicas (the
journal keeps the last status relayed).
"""

from __future__ import annotations

import json
import logging
import time
from urllib.parse import urlsplit

import anyio
import anyio.to_thread
import httpx

from kling_mcp.api.capabilities import endpoint_named
from kling_mcp.api.client import KlingClient
from kling_mcp.api.errors import KlingError, KlingProtocolError
from kling_mcp.api.models import TERMINAL_STATUSES, Task
from kling_mcp.logs import urls_by_host_only
from kling_mcp.service.callbacks.destinations import (
    DestinationRefusedError,
    DestinationUnresolvedError,
    checked_destination,
)
from kling_mcp.service.journal import JournalEntry, TaskJournal
from kling_mcp.service.wait.poller import Wakeups

logger = logging.getLogger(__name__)

RELAY_ATTEMPTS = 4
RELAY_FIRST_BACKOFF = 1.0  # seconds; doubles after each failed attempt
RELAY_TIMEOUT = 10.0
CONFIRM_WAIT = 30.0  # seconds the relay's status query (with its retries) may take

# The relay never goes back: a status is not relayed after itself, after a final one, or after a later one.
_LATER: dict[str, tuple[str, ...]] = {"submitted": ("submitted", "processing"), "processing": ("processing",)}


def not_after(status: str) -> tuple[str, ...]:
    """The last relayed statuses after which `status` is not relayed (a status Kling adds later: itself, final ones)."""
    return (*_LATER.get(status, (status,)), *sorted(TERMINAL_STATUSES))


def _where(url: str) -> str:
    """A relay target for logs: scheme and host only (a caller's path or query may hold its own secret)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or '?'}"


class CallbackHub:
    """Acts on callbacks that passed the address check: wake the waiting calls, relay to the caller's URL."""

    def __init__(
        self,
        journal: TaskJournal,
        wakeups: Wakeups,
        http: httpx.AsyncClient,
        kling: KlingClient,
        *,
        relay_to_private: bool = False,
    ) -> None:
        self._journal = journal
        self._wakeups = wakeups
        self._http = http
        self._kling = kling  # the relay's confirming query
        self._relay_to_private = relay_to_private
        self.received = 0

    async def handle(self, external_task_id: str, task: Task) -> None:
        """Act on one callback for this task (its body parsed as `task`: a hint, never relayed)."""
        self.received += 1
        entry = await anyio.to_thread.run_sync(self._journal.get, external_task_id)
        logger.info("callback for task %s: %s", external_task_id, task.task_status)
        if task.is_terminal:
            # The task id comes from the journal where it can: the body only says *that* something changed.
            task_id = entry.task_id if entry is not None and entry.task_id else task.task_id
            await self._wakeups.publish(task_id)
        if entry is not None and entry.callback_url:
            await self._relay_confirmed(entry, entry.callback_url, task.task_status)

    async def _relay_confirmed(self, entry: JournalEntry, url: str, hint: str | None) -> None:
        """Relay the task's status as Kling confirms it, unless that status was relayed already (here or elsewhere)."""
        key, done = entry.external_task_id, entry.relayed_status
        if done in TERMINAL_STATUSES or (hint is not None and hint == done):
            logger.info("callback of task %s not relayed: %s was relayed already", key, done)
            return
        try:
            confirmed = await self._confirm(entry)
        except KlingError as exc:
            logger.warning("callback of task %s not relayed: Kling's status could not be confirmed (%s)", key, exc)
            return
        status = confirmed.status
        if not await anyio.to_thread.run_sync(self._journal.claim_relay, key, status, not_after(status)):
            logger.info("callback of task %s not relayed: %s, or a later status, was relayed already", key, status)
            return
        body = json.dumps(confirmed.model_dump(mode="json", by_alias=True, exclude_unset=True)).encode()
        if not await self.relay(url, body, key):
            # Undelivered: a later callback (or a replica's) may try this status again.
            await anyio.to_thread.run_sync(self._journal.release_relay, key, status, done)

    async def _confirm(self, entry: JournalEntry) -> Task:
        """Kling's own answer for the entry's task (by Kling's id where known, else by the external id)."""
        endpoint = endpoint_named(entry.endpoint) or "image2video"
        queried = entry.task_id or entry.external_task_id
        task = await self._kling.get_task(endpoint, queried, deadline=time.monotonic() + CONFIRM_WAIT)
        another = entry.task_id is not None and task.task_id != entry.task_id
        if another or task.external_task_id not in (None, entry.external_task_id) or task.task_status is None:
            raise KlingProtocolError(f"Kling's answer to the query of {queried} is not that task's status")
        return task

    async def relay(self, url: str, raw: bytes, external_task_id: str) -> bool:
        """POST a task object (`raw`) to the caller's own URL, retrying a few times; True if delivered."""
        backoff = RELAY_FIRST_BACKOFF
        for attempt in range(1, RELAY_ATTEMPTS + 1):
            try:
                to = await checked_destination(url, allow_private=self._relay_to_private)
                with urls_by_host_only():  # httpx's request line would carry the caller's path and query
                    response = await self._http.post(
                        to.url,
                        content=raw,
                        headers={"Content-Type": "application/json", **to.headers},
                        extensions=to.extensions,
                        timeout=RELAY_TIMEOUT,
                    )
                if response.status_code < 500 and response.status_code != 429:
                    logger.info(
                        "relayed callback of task %s to %s: HTTP %d",
                        external_task_id,
                        _where(url),
                        response.status_code,
                    )
                    return response.is_success
                problem = f"HTTP {response.status_code}"
            except DestinationUnresolvedError as exc:
                problem = str(exc)
            except DestinationRefusedError as exc:
                logger.warning(
                    "did not relay task %s's callback to %s: %s (KLING_MCP_RELAY_TO_PRIVATE_ADDRESSES=1 allows it)",
                    external_task_id,
                    _where(url),
                    exc,
                )
                return False
            except httpx.HTTPError as exc:
                problem = type(exc).__name__
            logger.warning(
                "relay of task %s's callback to %s failed (%s), attempt %d of %d",
                external_task_id,
                _where(url),
                problem,
                attempt,
                RELAY_ATTEMPTS,
            )
            if attempt < RELAY_ATTEMPTS:
                await anyio.sleep(backoff)
                backoff *= 2
        return False
