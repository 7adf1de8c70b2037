"""Builds the callback parts from the settings: the address maker, the safety-net schedule, the hub."""

from __future__ import annotations

import logging
import secrets
from contextlib import AsyncExitStack

import httpx
from pydantic import SecretStr

from kling_mcp.api.client import KlingClient
from kling_mcp.config import Settings, is_database_url
from kling_mcp.service.callbacks.addresses import CallbackAddress
from kling_mcp.service.callbacks.relay import CallbackHub
from kling_mcp.service.journal import TaskJournal
from kling_mcp.service.wait.poller import Hurry, LocalWakeups, Wakeups
from kling_mcp.service.wait.safety_net import SafetyNetSchedule

logger = logging.getLogger(__name__)

_PROCESS_KEY = SecretStr(secrets.token_hex(32))  # sandbox mode without keys: one process, so its own secret does


def callback_address(settings: Settings) -> CallbackAddress:
    """The address maker for KLING_MCP_PUBLIC_URL (which must be set)."""
    assert settings.public_url is not None
    return CallbackAddress(settings.public_url, settings.callback_key() or _PROCESS_KEY)


def safety_net(settings: Settings) -> SafetyNetSchedule:
    """The polling schedule when callbacks arrive: sparse, a net for lost ones."""
    return SafetyNetSchedule(
        min_interval=settings.poll_min_interval,
        max_interval=settings.poll_max_interval,
        interval=settings.callback_safety_poll,
    )


def open_wakeups(location: str, hurry: Hurry, stack: AsyncExitStack) -> Wakeups:
    """Wake-ups across replicas with a PostgreSQL journal (LISTEN/NOTIFY), else within this process."""
    wakeups: Wakeups
    if is_database_url(location):
        from kling_mcp.service.journal.listen import PostgresWakeups

        # Its own connections, not the journal's: a journal that cannot be opened yet must not stop the server.
        wakeups = PostgresWakeups(location, hurry)
    else:
        wakeups = LocalWakeups(hurry)
    stack.callback(wakeups.close)
    return wakeups


async def open_hub(
    settings: Settings, journal: TaskJournal, kling: KlingClient, hurry: Hurry, stack: AsyncExitStack
) -> CallbackHub:
    """The hub that acts on received callbacks, with its own HTTP client for relays to callers' URLs (and `kling`
    for the relay's confirming queries)."""
    wakeups = open_wakeups(settings.resolved_journal(), hurry, stack)
    http = await stack.enter_async_context(httpx.AsyncClient(follow_redirects=False))
    logger.info("Kling callbacks arrive at %s/kling/callback/…", settings.public_url)
    return CallbackHub(journal, wakeups, http, kling, relay_to_private=settings.relay_to_private_addresses)
