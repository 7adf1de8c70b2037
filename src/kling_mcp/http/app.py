"""Serve kling-mcp over streamable HTTP: bearer auth, Host/Origin checks, limits, /healthz and graceful shutdown."""

from __future__ import annotations

import logging
import signal
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from types import FrameType

import uvicorn
from mcp.server.mcpserver import MCPServer
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from kling_mcp import __version__
from kling_mcp.api.retry import RetryPolicy
from kling_mcp.config import Settings
from kling_mcp.http.auth import Authentication, authentication
from kling_mcp.http.challenge import BareChallengeMiddleware
from kling_mcp.http.deadlines import deadline_protocol
from kling_mcp.http.events import RETRY_MS, StreamCursors
from kling_mcp.http.resource import BearerChallenge
from kling_mcp.http.scope_gate import ScopeGate
from kling_mcp.http.security import check_exposure, transport_security
from kling_mcp.http.settings import HttpSettings, stateless_consent_warning
from kling_mcp.http.throttle import ThrottleResponses
from kling_mcp.listening import listen
from kling_mcp.redaction import Redactor
from kling_mcp.server.build import AppContext, build_server
from kling_mcp.server.call_gate import CallGate
from kling_mcp.server.tools import TOOL_SCOPES
from kling_mcp.service.create.creating import MIN_CREATE_BUDGET_SECONDS
from kling_mcp.service.prepare.images import ImagePolicy

logger = logging.getLogger(__name__)

HEALTH_PATH = "/healthz"
# After the drain, what is left are idle connections and open notification streams: close them quickly.
FLUSH_SECONDS = 2


@dataclass
class HttpApp:
    """The ASGI app and the parts of it that shutdown and tests need to reach."""

    app: Starlette
    server: MCPServer[AppContext]
    gate: CallGate


def build_http_app(
    settings: Settings,
    http: HttpSettings,
    tokens: tuple[SecretStr, ...],
    *,
    retry_policy: RetryPolicy | None = None,
) -> HttpApp:
    """The streamable HTTP app for these settings; raises `HttpSecurityError` on an unsafe exposure."""
    check_exposure(http, tokens)
    contexts: list[AppContext] = []
    auth = authentication(http, tokens, settings.public_url)
    # Without authentication every caller is one owner (the local user): a share below the process cap would only
    # cap the whole server at a quarter of its slots, so by default that owner gets them all.
    per_owner = http.max_calls_per_owner or (http.max_concurrent_calls if auth is None else None)
    gate = CallGate(http.max_concurrent_calls, wrap_up=lambda: sum(c.wrap_up() for c in contexts), per_owner=per_owner)
    secrets = [t.get_secret_value() for t in tokens]
    if http.oauth_client_secret is not None:
        secrets.append(http.oauth_client_secret.get_secret_value())
    server = build_server(
        settings,
        image_policy=ImagePolicy.for_roots(http.file_roots, remote=True),
        retry_policy=retry_policy,
        token_verifier=auth.verifier if auth else None,
        auth=auth.settings if auth else None,
        extensions=[gate],
        on_context=contexts.append,
        redactor=Redactor(secrets),
        serve_callbacks=settings.public_url is not None,
    )
    _add_routes(server, settings, auth, gate, contexts)
    app = server.streamable_http_app(
        streamable_http_path=http.path,
        stateless_http=http.stateless,
        event_store=StreamCursors(),
        retry_interval=RETRY_MS,
        max_request_body_size=http.max_body_bytes,
        transport_security=transport_security(http),
        host=http.host,
    )
    if auth is not None:
        _guard(app, http, auth)
    return HttpApp(app=app, server=server, gate=gate)


def _add_routes(
    server: MCPServer[AppContext],
    settings: Settings,
    auth: Authentication | None,
    gate: CallGate,
    contexts: list[AppContext],
) -> None:
    """The routes beside the MCP endpoint: the resource metadata, /healthz, and the ones Kling reaches (its
    callbacks, and the reference videos lent to it)."""
    if auth is not None and auth.resource is not None:
        for route in auth.resource.routes():  # outside authentication: clients read it to learn how to sign in
            server.custom_route(route.path, methods=["GET", "OPTIONS"], include_in_schema=False)(route.endpoint)

    async def healthz(_: Request) -> Response:
        # For load balancers: no auth, no secrets, no Kling request. 503 while draining takes us out of rotation.
        if gate.draining:
            return JSONResponse({"status": "draining"}, status_code=503)
        return JSONResponse({"status": "ok"})

    server.custom_route(HEALTH_PATH, methods=["GET"], include_in_schema=False)(healthz)
    if settings.public_url is not None:
        from kling_mcp.http.callback_route import (
            REFERENCE_METHODS,
            REFERENCE_ROUTE,
            ROUTE,
            callback_endpoint,
            reference_endpoint,
        )
        from kling_mcp.server.callback_setup import callback_address

        endpoint = callback_endpoint(callback_address(settings), contexts)
        server.custom_route(ROUTE, methods=["POST"], include_in_schema=False)(endpoint)
        lent = reference_endpoint(lambda: contexts[-1].options.lent_files if contexts else None)
        server.custom_route(REFERENCE_ROUTE, methods=REFERENCE_METHODS, include_in_schema=False)(lent)


def _guard(app: Starlette, http: HttpSettings, auth: Authentication) -> None:
    """Add what the SDK's bearer authentication lacks: spec-shaped challenges, step-up for paid tools, cleanup."""
    for route in app.routes:
        if isinstance(route, Route) and route.path == http.path:
            # Inside authentication (it needs the caller's scopes), around the endpoint.
            route.app = ScopeGate(
                route.app, tool_scopes=TOOL_SCOPES, resource=auth.resource, max_body=http.max_body_bytes
            )
    app.add_middleware(BearerChallenge, path=http.path, resource=auth.resource)
    # Outermost: a 401 to a request without credentials loses any error code and gets a plain body (RFC 6750 §3.1).
    app.add_middleware(BareChallengeMiddleware)
    # Around that: the client address the introspection throttle counts, and its 429 (http/throttle.py).
    app.add_middleware(ThrottleResponses)
    client = auth.issuer_http
    if client is not None:
        inner = app.router.lifespan_context

        @asynccontextmanager
        async def lifespan(started: Starlette) -> AsyncIterator[None]:
            async with client, inner(started):
                yield

        app.router.lifespan_context = lifespan


def _hold_sse_streams_on_signal() -> Callable[[], None]:
    """Keep SSE responses open after SIGTERM until the drain is over; returns the function that ends them.

    sse-starlette (which the SDK streams responses with) ends every open stream as soon as uvicorn sees a signal,
    which would cut each running tool call off from its result. Its documented switch defers that to us.
    """
    try:
        from sse_starlette.sse import AppStatus
    except ImportError:  # the SDK no longer streams with sse-starlette: nothing to hold
        return lambda: None
    AppStatus.disable_automatic_graceful_drain()  # type: ignore[no-untyped-call]

    def release() -> None:
        AppStatus.should_exit = True

    return release


class GracefulServer(uvicorn.Server):
    """uvicorn, with a drain of the tool calls in flight before its own shutdown."""

    def __init__(self, config: uvicorn.Config, gate: CallGate, grace_seconds: float, hard_limit_seconds: float) -> None:
        super().__init__(config)
        self._gate = gate
        self._grace = grace_seconds
        self._hard_limit = hard_limit_seconds
        self._release_streams: Callable[[], None] = lambda: None

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        """Serve until a signal; streams stay open through the drain."""
        self._release_streams = _hold_sse_streams_on_signal()
        await super().serve(sockets)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """Drain the tool calls, then let uvicorn stop accepting connections and close the rest.

        New connections are still accepted during the drain: /healthz answers them 503 (what load balancers probe
        for) and the call gate refuses new tool calls in words, where a closed port would only say "refused".
        """
        try:
            await self._gate.drain(self._grace, self._hard_limit, give_up=lambda: self.force_exit)
        finally:
            self._release_streams()  # what is left (notification streams) may now end
        # A second Ctrl-C (force_exit) cut the drain short; it must not also skip the lifespan's close (the journal)
        # as uvicorn's forced exit would, leaving the app's tasks to be cancelled with a traceback. A third still can.
        self.force_exit = False
        await super().shutdown(sockets)


def _describe(settings: Settings, http: HttpSettings, tokens: tuple[SecretStr, ...]) -> str:
    kinds = [f"{len(tokens)} static token(s)"] if tokens else []
    if http.oauth_issuer:
        kinds.append(f"OAuth access tokens of {http.oauth_issuer} for {http.oauth_resource(settings.public_url)}")
    return " and ".join(kinds) or "NO authentication"


def serve_http(settings: Settings, http: HttpSettings, tokens: tuple[SecretStr, ...]) -> int:
    """Serve until SIGTERM/SIGINT, then shut down gracefully; returns the exit code (130 after Ctrl-C, else 0).

    Raises `HttpSecurityError` before binding if unsafe, `ListenError` if the address cannot be listened on (before
    anything starts, so that is all a person sees)."""
    runtime = build_http_app(settings, http, tokens)
    sock = listen(http.host, http.port)
    config = uvicorn.Config(
        runtime.app,
        host=http.host,
        port=http.port,
        log_config=None,  # logging is configured once, in the CLI (stderr, secrets redacted)
        log_level=logging.getLogger().getEffectiveLevel(),  # as the CLI set it (--log-level or the variable)
        lifespan="on",
        server_header=False,
        timeout_graceful_shutdown=FLUSH_SECONDS,
        # Slow clients are cut off: header and body deadlines (our protocol class), idle keep-alive (uvicorn's).
        http=deadline_protocol(http.header_timeout_seconds, http.body_timeout_seconds),
        timeout_keep_alive=http.keep_alive_seconds,
    )
    server = GracefulServer(
        config,
        runtime.gate,
        grace_seconds=http.shutdown_grace_seconds,
        hard_limit_seconds=MIN_CREATE_BUDGET_SECONDS + settings.http_timeout_seconds,
    )
    logger.info(
        "kling-mcp %s: MCP over streamable HTTP at http://%s:%d%s (%s, %s, at most %d tool calls at once)",
        __version__,
        http.host,
        http.port,
        http.path,
        _describe(settings, http, tokens),
        "stateless" if http.stateless else "stateful sessions",
        http.max_concurrent_calls,
    )
    if warning := stateless_consent_warning(http.stateless, settings.confirm_spend):
        logger.warning("%s", warning)
    return _run_until_signalled(server, sock)


def _run_until_signalled(server: uvicorn.Server, sock: socket.socket) -> int:
    """Run uvicorn; a signal stops it (a second Ctrl-C during the drain ends the drain) and sets the exit code.

    uvicorn raises each signal it caught again after its shutdown. Met by asyncio's own SIGINT handling, a second
    Ctrl-C became a KeyboardInterrupt inside the closing event loop, logged as a 40-line traceback; a handler that
    notes the signal (and hands it to uvicorn if it comes before uvicorn listens for signals) ends quietly.
    """
    received: list[int] = []

    def note(signum: int, frame: FrameType | None) -> None:
        received.append(signum)
        server.handle_exit(signum, frame)

    previous = {sig: signal.signal(sig, note) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        server.run(sockets=[sock])
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    # SIGTERM is how a service manager stops a server: a drain that ran its course is a success (0), not 143.
    return 128 + signal.SIGINT if signal.SIGINT in received else 0
