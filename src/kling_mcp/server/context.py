"""What every tool call shares: settings, the lifespan's exit stack, and the runtime opened on first use."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio
from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from kling_mcp.config import MissingCredentialsError, Settings
from kling_mcp.redaction import Redactor
from kling_mcp.service.options import ServiceOptions
from kling_mcp.service.prepare.images import ImagePolicy
from kling_mcp.service.wait.schedule import PollSchedule

if TYPE_CHECKING:
    from anyio.abc import TaskGroup

    from kling_mcp.api.retry import RetryPolicy
    from kling_mcp.server.runtime import Runtime
    from kling_mcp.service.video import VideoService

logger = logging.getLogger(__name__)


@dataclass
class AppContext:
    """What the lifespan hands to every tool call; the service itself is built on the first call."""

    settings: Settings
    options: ServiceOptions
    stack: AsyncExitStack
    retry_policy: RetryPolicy | None = None
    background: TaskGroup | None = None  # for work that outlives a call (the journal's start-up sweep)
    unavailable_reason: str | None = None
    api_base_url: str = ""
    # The server's scrubber (the edge's: credential patterns plus the configured secrets), for what bypasses the edge.
    redactor: Redactor = field(default_factory=Redactor)
    _runtime: Runtime | None = None
    _lock: anyio.Lock = field(default_factory=anyio.Lock)

    @property
    def auto_download(self) -> bool:
        """KLING_MCP_DOWNLOAD_DIR is set: save every finished video."""
        return self.settings.download_dir is not None

    async def runtime(self) -> Runtime:
        """The service and downloader, opened on first use (tools/list never pays for the HTTP stack)."""
        if self.unavailable_reason is not None:
            raise ToolError(self.unavailable_reason)
        async with self._lock:
            if self._runtime is None:
                from kling_mcp.server.runtime import open_runtime

                self._runtime = await open_runtime(
                    self.settings, self.options, self.stack, self.retry_policy, self.background
                )
                self.api_base_url = self._runtime.base_url
            return self._runtime

    def wrap_up(self) -> int:
        """For shutdown: end every wait, so calls answer with their task id now; returns how many were ended."""
        return self._runtime.service.wrap_up() if self._runtime is not None else 0

    async def service(self) -> VideoService:
        """The video service (see `runtime`)."""
        return (await self.runtime()).service


def options_from(
    settings: Settings, image_policy: ImagePolicy | None = None, *, serve_callbacks: bool = False
) -> ServiceOptions:
    """The use case's knobs from the settings; `serve_callbacks` when this server answers Kling's callbacks."""
    schedule = PollSchedule(min_interval=settings.poll_min_interval, max_interval=settings.poll_max_interval)
    callback_url_for = lent_files = None
    if serve_callbacks and settings.public_url:
        from kling_mcp.server.callback_setup import callback_address, safety_net
        from kling_mcp.service.prepare.reference_video import LentFiles

        callback_url_for = callback_address(settings).url_for
        schedule = safety_net(settings)
        lent_files = LentFiles(settings.public_url)
    return ServiceOptions(
        max_wait_seconds=settings.max_wait_seconds,
        schedule=schedule,
        callback_url_for=callback_url_for,
        lent_files=lent_files,
        relay_to_private=settings.relay_to_private_addresses,
        image_policy=image_policy or ImagePolicy(),
        skip_capability_check=settings.skip_capability_check,
        stale_intent_seconds=settings.stale_intent_seconds,
        http_timeout_seconds=settings.http_timeout_seconds,
        spend_limit=settings.spend_limit,
        # Calls due within this window share one list request; never more than half the shortest gap.
        coalesce_window=min(1.0, settings.poll_min_interval / 2),
    )


def make_lifespan(
    settings: Settings,
    image_policy: ImagePolicy | None = None,
    retry_policy: RetryPolicy | None = None,
    on_context: Callable[[AppContext], None] | None = None,
    serve_callbacks: bool = False,
) -> Callable[[MCPServer[AppContext]], AbstractAsyncContextManager[AppContext]]:
    """The lifespan: holds what tool calls open (HTTP client, journal, sandbox) and closes it on shutdown."""

    @asynccontextmanager
    async def lifespan(_: MCPServer[AppContext]) -> AsyncIterator[AppContext]:
        async with AsyncExitStack() as stack:
            background = await stack.enter_async_context(anyio.create_task_group())
            stack.callback(background.cancel_scope.cancel)  # runs before the group's exit, which would wait
            options = options_from(settings, image_policy, serve_callbacks=serve_callbacks)
            app = AppContext(settings, options, stack, retry_policy, background)
            app.api_base_url = settings.api_base_url
            if not settings.sandbox:
                try:
                    settings.credentials()
                except MissingCredentialsError as exc:
                    logger.warning("%s", exc)
                    app.unavailable_reason = str(exc)
            if on_context is not None:
                on_context(app)
            yield app

    return lifespan


def app_of(ctx: Context | ServerRequestContext[Any, Any]) -> AppContext:
    """The AppContext of the server: from a tool call's `Context`, or from any request's context (`tasks/*`)."""
    request = ctx.request_context if isinstance(ctx, Context) else ctx
    app = request.lifespan_context
    assert isinstance(app, AppContext)
    return app
