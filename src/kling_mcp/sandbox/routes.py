"""The sandbox's HTTP surface: Kling's video endpoints with its auth, envelope and error codes."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from importlib import resources
from typing import Any

import anyio
import jwt
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from kling_mcp.sandbox.envelope import CODE_MESSAGES, MAX_PAGE_SIZE, envelope, http_status_for, refusal
from kling_mcp.sandbox.general import GeneralRoutes
from kling_mcp.sandbox.kling3 import kling3_error, motion_control_error
from kling_mcp.sandbox.references import fetch_seconds, on_loopback
from kling_mcp.sandbox.rules import image2video_error, omni_video_error, text2video_error
from kling_mcp.sandbox.state import RecordedRequest, ReferenceFetch, SandboxState

# Each endpoint of docs/kling-api.md, with the sandbox's reading of what Kling refuses there.
VALIDATORS: dict[str, Callable[[dict[str, Any]], str | None]] = {
    "image2video": image2video_error,
    "text2video": text2video_error,
    "omni-video": omni_video_error,
}
ENDPOINTS = (*VALIDATORS, "motion-control")  # motion control's rules need the config: `SandboxRoutes.validate`


class DroppedConnection(Response):
    """Starts an answer, then breaks the connection: the client cannot know what happened."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:  # noqa: ARG002
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")],
            }
        )
        await send({"type": "http.response.body", "body": b'{"code": 0, "mess', "more_body": True})
        raise ConnectionAbortedError("sandbox fault: connection dropped after the task was created")


def odd_envelope(kind: str, view: dict[str, Any]) -> Response:
    """A success answer for a created task whose shape is off in the way `kind` names (the `odd_envelope` fault)."""
    if kind == "no_task_status":
        return envelope(0, "SUCCEED", {k: v for k, v in view.items() if k != "task_status"})
    if kind == "unknown_status":
        return envelope(0, "SUCCEED", {**view, "task_status": "queued"})
    if kind == "code_not_int":
        return JSONResponse({"code": "ok", "message": "SUCCEED", "request_id": str(uuid.uuid4()), "data": view})
    if kind == "no_data":
        return envelope(0, "SUCCEED", None)
    raise ValueError(f"unknown odd_envelope {kind!r}")


def with_status(view: dict[str, Any], status: str | None) -> dict[str, Any]:
    """The task view showing `status` (None: without a task_status field), for the `query_odd_status` fault."""
    changed = {k: v for k, v in view.items() if k != "task_status"}
    if status is not None:
        changed["task_status"] = status
    return changed


def with_video_url(view: dict[str, Any], url: str) -> dict[str, Any]:
    """The task view with every video URL replaced by `url`, for the `odd_video_url` fault."""
    videos = [{**video, "url": url, "watermark_url": url} for video in view["task_result"]["videos"]]
    return {**view, "task_result": {**view["task_result"], "videos": videos}}


NOT_JSON_PAGE = "<html><body><h1>502 Bad Gateway</h1>upstream answered, proxy garbled it</body></html>"


def _load_asset(name: str) -> bytes:
    return resources.files("kling_mcp.assets").joinpath(name).read_bytes()


class SandboxRoutes:
    """The sandbox's request handlers over one state: Kling's endpoints, and the videos, assets, faults, health."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self.video_bytes = _load_asset("sample.mp4")

    def auth_error(self, request: Request) -> Response | None:
        header = request.headers.get("authorization", "")
        if not header:
            return envelope(1001, "Authorization is empty", status=401)
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return envelope(1002, "Authorization is invalid", status=401)
        try:
            claims = jwt.decode(
                token,
                self.state.config.secret_key,
                algorithms=["HS256"],
                options={"require": ["iss", "exp", "nbf"]},
            )
        except jwt.ExpiredSignatureError:
            return envelope(1004, "Authorization token has expired", status=401)
        except jwt.ImmatureSignatureError:
            return envelope(1003, "Authorization token is not yet valid", status=401)
        except jwt.InvalidTokenError:
            return envelope(1000, "Authentication failed", status=401)
        if claims.get("iss") != self.state.config.access_key:
            return envelope(1000, "Authentication failed", status=401)
        if self.state.is_expired(token):
            return envelope(1004, "Authorization token has expired", status=401)
        return None

    async def common(self, request: Request) -> tuple[Response | None, dict[str, Any] | None]:
        body: dict[str, Any] | None = None
        if request.method == "POST":
            try:
                parsed = json.loads(await request.body() or b"null")
            except ValueError:
                parsed = None
            body = parsed if isinstance(parsed, dict) else None
        self.state.record(
            RecordedRequest(
                request.method,
                request.url.path,
                dict(request.query_params),
                body,
                request.headers.get("authorization"),
            )
        )
        if (denied := self.auth_error(request)) is not None:
            return denied, body
        if self.state.take_fault("echo_authorization"):
            # Upstreams and gateways do echo request headers in error texts; the token must not travel further.
            code = self.state.faults.echo_authorization_code
            sent = request.headers.get("authorization", "")
            message = f"{CODE_MESSAGES.get(code, 'error')}: rejected request with Authorization: {sent}"
            return envelope(code, message, status=http_status_for(code)), body
        if self.state.take_fault("rate_limit"):
            retry_after = self.state.faults.retry_after
            return envelope(
                1303, "parallel task over resource pack limit", status=429, headers={"Retry-After": f"{retry_after:g}"}
            ), body
        return None, body

    async def create(self, request: Request) -> Response:
        endpoint = request.path_params["endpoint"]
        if endpoint not in ENDPOINTS:
            return envelope(1202, "Invalid request method", status=404)
        early, body = await self.common(request)
        if early is not None:
            return early
        if body is None:
            return envelope(1200, "Invalid request: body must be a JSON object", status=400)
        if self.state.take_fault("create_lost"):  # lost on Kling's side before any task is made; no answer ever comes
            await anyio.sleep(self.state.faults.slow_seconds)
            return DroppedConnection()
        if self.state.take_fault("create_error"):
            code = self.state.faults.create_error_code
            return envelope(code, CODE_MESSAGES.get(code, "error"), status=http_status_for(code))
        if endpoint == "motion-control":
            await self.fetch_reference(body)
        problem = self.validate(endpoint, body)
        if problem is not None:
            return envelope(1201, f"Invalid parameter: {problem}", status=400)
        external = body.get("external_task_id")
        if external is not None and self.state.external_id_taken(external):
            return envelope(1201, f"Invalid parameter: external_task_id {external} already exists", status=400)
        if (refused := self.state.refusal(endpoint, body)) is not None:
            return refusal(refused)  # packs used up (1102) or no free task slot (1303): nothing is created
        task = self.state.add_task(endpoint, body)
        if self.state.take_fault("create_drop"):
            return DroppedConnection()
        if self.state.take_fault("create_slow"):
            await anyio.sleep(self.state.faults.slow_seconds)
        if self.state.take_fault("create_not_json"):
            return Response(NOT_JSON_PAGE, status_code=200, media_type="text/html")
        view = self.state.view(task)
        view.pop("task_result", None)
        if self.state.take_fault("create_odd_envelope"):
            return odd_envelope(self.state.faults.odd_envelope, view)
        return envelope(0, "SUCCEED", view)

    def validate(self, endpoint: str, body: dict[str, Any]) -> str | None:
        """Why Kling would refuse this create body: the endpoint's rules, then the 3.0 additions (omni-video too)."""
        if endpoint == "motion-control":
            return motion_control_error(body, self.state.reference_lengths())
        if problem := VALIDATORS[endpoint](body):
            return problem
        now = self.state.clock()
        return kling3_error(body, lambda element_id: self.state.elements.exists(element_id, now))

    async def fetch_reference(self, body: dict[str, Any]) -> None:
        """Fetch a motion request's reference video on loopback and note its length, as Kling fetches it."""
        url = body.get("video_url")
        if isinstance(url, str) and on_loopback(url):
            status, seconds = await fetch_seconds(url)
            self.state.note_fetch(ReferenceFetch(url, status, seconds))

    async def refused_read(self, request: Request) -> Response | None:
        """The answer to a GET that is refused (unknown endpoint, auth, rate limit, injected 5xx), or None."""
        if request.path_params["endpoint"] not in ENDPOINTS:
            return envelope(1202, "Invalid request method", status=404)
        early, _ = await self.common(request)
        if early is not None:
            return early
        if self.state.take_fault("query_server_error"):
            return envelope(5000, "Server internal error", status=500)
        return None

    async def query(self, request: Request) -> Response:
        if (refused := await self.refused_read(request)) is not None:
            return refused
        task = self.state.find(request.path_params["endpoint"], request.path_params["task_id"])
        if task is None:
            return envelope(1203, "Resource does not exist: task not found", status=404)
        if self.state.take_fault("query_odd_status"):
            return envelope(0, "SUCCEED", with_status(self.state.view(task), self.state.faults.odd_status))
        view = self.state.view(task)
        if view["task_status"] == "succeed" and self.state.take_fault("odd_video_url"):
            view = with_video_url(view, self.state.faults.video_url)
        return envelope(0, "SUCCEED", view)

    async def listing(self, request: Request) -> Response:
        if (refused := await self.refused_read(request)) is not None:
            return refused
        external = request.query_params.get("external_task_id")
        tasks = self.state.listing(request.path_params["endpoint"])
        if external is not None:
            tasks = [t for t in tasks if t.external_task_id == external]
        try:
            page = int(request.query_params.get("pageNum", "1"))
            size = int(request.query_params.get("pageSize", "30"))
        except ValueError:
            return envelope(1201, "Invalid parameter: pageNum and pageSize must be integers", status=400)
        if not 1 <= size <= MAX_PAGE_SIZE or page < 1:
            return envelope(1201, f"Invalid parameter: pageSize must be 1..{MAX_PAGE_SIZE}", status=400)
        chosen = [self.state.view(t) for t in tasks[(page - 1) * size : page * size]]
        if chosen and self.state.take_fault("query_odd_status"):
            chosen = [with_status(view, self.state.faults.odd_status) for view in chosen]
        return envelope(0, "SUCCEED", chosen)

    async def video(self, request: Request) -> Response:
        task = self.state.tasks.get(request.path_params["task_id"])
        if task is None or task.status(self.state.clock()) != "succeed":
            return Response(status_code=404)
        if self.state.take_fault("video_slow"):
            await anyio.sleep(self.state.faults.slow_seconds)
        return Response(self.video_bytes, media_type="video/mp4")

    async def asset(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in ("example.png",):
            return Response(status_code=404)
        return Response(_load_asset(name), media_type="image/png")

    async def faults(self, request: Request) -> Response:
        try:
            changes = json.loads(await request.body() or b"{}")
            self.state.inject(**changes)
        except (ValueError, TypeError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"faults": vars(self.state.faults)})

    async def health(self, _: Request) -> Response:
        return JSONResponse({"status": "ok", "tasks": len(self.state.tasks)})


def build_app(state: SandboxState) -> Starlette:
    """The Starlette app serving `state`."""
    routes = SandboxRoutes(state)
    general = GeneralRoutes(state, routes.common, routes.video_bytes)
    return Starlette(
        routes=[
            *general.routes(),
            Route("/v1/videos/{endpoint}", routes.create, methods=["POST"]),
            Route("/v1/videos/{endpoint}", routes.listing, methods=["GET"]),
            Route("/v1/videos/{endpoint}/{task_id}", routes.query, methods=["GET"]),
            Route("/sandbox/videos/{task_id}.mp4", routes.video, methods=["GET"]),
            Route("/sandbox/assets/{name}", routes.asset, methods=["GET"]),
            Route("/sandbox/faults", routes.faults, methods=["POST"]),
            Route("/sandbox/health", routes.health, methods=["GET"]),
        ]
    )
