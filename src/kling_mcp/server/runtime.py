"""Builds what a tool call needs — the Kling client over one shared httpx client, the journal, the service.

Imported and run on the first tool call, not at start-up: clients list tools before they call any, and a server
that answers `tools/list` without loading the HTTP stack, SQLite and JWT code starts measurably faster.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import ssl
import sys
from contextlib import AsyncExitStack
from dataclasses import dataclass
from functools import partial

import anyio
import httpx
from anyio.abc import TaskGroup
from pydantic import SecretStr

from kling_mcp import __version__
from kling_mcp.api.client import KlingClient
from kling_mcp.api.retry import DEFAULT_RETRY_POLICY, RetryPolicy
from kling_mcp.api.signing import JwtSigner
from kling_mcp.config import Settings
from kling_mcp.service.callbacks.relay import CallbackHub
from kling_mcp.service.describe.download import VideoDownloader
from kling_mcp.service.journal import TaskJournal, open_journal
from kling_mcp.service.journal.reopening import ReopeningJournal
from kling_mcp.service.limits.credits import CreditsReader
from kling_mcp.service.options import ServiceOptions
from kling_mcp.service.video import VideoService
from kling_mcp.service.wait.tracking import TaskTracker

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Runtime:
    """What tool calls use: the video service and downloader, the Kling base URL, the journal and task tracker, and
    the callback hub when Kling's callbacks are served."""

    service: VideoService
    downloader: VideoDownloader
    base_url: str
    journal: TaskJournal
    tracker: TaskTracker
    credits: CreditsReader
    callbacks: CallbackHub | None = None


@functools.cache
def tls_context() -> ssl.SSLContext:
    """httpx's default TLS settings, built once: each client would otherwise load the CA bundle again (~50 ms)."""
    return httpx.create_ssl_context()


async def open_runtime(
    settings: Settings,
    options: ServiceOptions,
    stack: AsyncExitStack,
    retry_policy: RetryPolicy | None = None,
    background: TaskGroup | None = None,
) -> Runtime:
    """Open everything tool calls need over one shared HTTP client; everything opened is closed by `stack`."""
    return_large_buffers_to_os()
    base_url, signer = _kling_target(settings, stack)
    http = await stack.enter_async_context(
        httpx.AsyncClient(
            base_url=base_url,
            timeout=httpx.Timeout(settings.http_timeout_seconds, connect=10.0),
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
            headers={"User-Agent": f"kling-mcp/{__version__}"},
            verify=tls_context(),
        )
    )
    location = settings.resolved_journal()
    journal = ReopeningJournal(partial(open_journal, location, write_wait=settings.journal_write_wait), location)
    stack.callback(journal.close)
    client = KlingClient(http, signer, policy=retry_policy or DEFAULT_RETRY_POLICY)
    downloader = VideoDownloader(http, settings.resolved_download_dir(), max_bytes=settings.download_max_bytes)
    logger.info("kling-mcp %s connected (Kling at %s, journal %s)", __version__, base_url, journal.where)
    service = VideoService(client, journal, options, kling_host=base_url)
    service.recorder.start()
    stack.callback(service.recorder.stop)  # registered after journal.close, so it runs first
    if background is not None:
        # Writes lost when an earlier process died are re-learnt from Kling: every open intent (a video task's or an
        # element's) is resolved once.
        sweep = anyio.CancelScope()
        stack.callback(sweep.cancel)  # registered last, so it stops before the HTTP client and journal close
        background.start_soon(_sweep, service, sweep)
    tracker = TaskTracker(service, journal)
    callbacks = None
    if options.callback_url_for is not None:
        from kling_mcp.server.callback_setup import open_hub

        def hurry(task_id: str) -> int:  # waiting calls query at once; MCP tasks at their client's next tasks/get
            return service.poller.hurry(task_id) + tracker.hurry(task_id)

        callbacks = await open_hub(settings, journal, client, hurry, stack)
    return Runtime(service, downloader, base_url, journal, tracker, CreditsReader(client), callbacks)


def _kling_target(settings: Settings, stack: AsyncExitStack) -> tuple[str, JwtSigner]:
    """Kling's base URL and the signer of its requests: a sandbox started here in no-keys mode, else the settings'."""
    if settings.sandbox:
        from kling_mcp.sandbox.runner import SandboxServer  # only the no-keys mode needs it

        sandbox = stack.enter_context(SandboxServer())
        return sandbox.url, JwtSigner(sandbox.state.config.access_key, SecretStr(sandbox.state.config.secret_key))
    access_key, secret_key = settings.credentials()
    return settings.api_base_url, JwtSigner(access_key, secret_key)


async def _sweep(service: VideoService, scope: anyio.CancelScope) -> None:
    with scope:
        try:
            await service.intents.sweep()
        except Exception:  # the sweep is a courtesy; a failure must not reach the lifespan's task group
            logger.warning("start-up sweep of open intents failed", exc_info=True)


# Keep the server's memory flat when calls carry multi-megabyte inline images.
M_MMAP_THRESHOLD = -3
LARGE_BUFFER_BYTES = 1024 * 1024


def return_large_buffers_to_os() -> None:
    """Make glibc serve buffers ≥ 1 MB from mmap, so freeing an image body gives its memory back at once.

    By default glibc raises its mmap threshold after the first large free, and later multi-megabyte buffers land on
    the heap where freed holes keep the RSS high. Measured with benchmarks/run.py: peak RSS at 100 concurrent calls
    with 5 MB images fell from 351 MB to 253 MB. A no-op where the C library is not glibc.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None)  # the running process's own symbols, the C library's among them
        if not hasattr(libc, "mallopt"):
            return
        libc.mallopt(M_MMAP_THRESHOLD, LARGE_BUFFER_BYTES)
    except OSError:
        logger.debug("could not tune the allocator", exc_info=True)
