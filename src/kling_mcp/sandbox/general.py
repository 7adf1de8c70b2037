"""The sandbox's account and element endpoints: `GET /account/costs` (rate limited, as Kling's is) and the custom
elements under `/v1/general/`; also the reference videos that motion-control requests may point at.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from kling_mcp.sandbox.elements import element_create_error, new_element_task
from kling_mcp.sandbox.envelope import MAX_PAGE_SIZE, envelope, refusal
from kling_mcp.sandbox.kling3 import REFERENCE_PATH
from kling_mcp.sandbox.references import with_seconds
from kling_mcp.sandbox.state import SandboxState

Common = Callable[[Request], Awaitable[tuple[Response | None, dict[str, Any] | None]]]
ELEMENTS = "/v1/general/advanced-custom-elements"
DELETE_ELEMENTS = "/v1/general/delete-elements"  # uncertain: one client calls it delete-advanced-elements
COSTS = "/account/costs"  # uncertain: one client calls /v1/account/costs; Kling's docs and most clients do not


def _page(request: Request) -> tuple[int, int] | None:
    """(pageNum, pageSize) of a list request, or None when they are not valid."""
    try:
        page = int(request.query_params.get("pageNum", "1"))
        size = int(request.query_params.get("pageSize", "30"))
    except ValueError:
        return None
    return (page, size) if page >= 1 and 1 <= size <= MAX_PAGE_SIZE else None


class GeneralRoutes:
    """Handlers over one state; `common` is the video routes' auth, recording and fault check."""

    def __init__(self, state: SandboxState, common: Common, video_bytes: bytes) -> None:
        self.state = state
        self.common = common
        self.video_bytes = video_bytes

    async def costs(self, request: Request) -> Response:
        early, _ = await self.common(request)
        if early is not None:
            return early
        now = self.state.clock()
        with self.state.lock:
            last = self.state.account.last_costs_query
            if last is not None and now - last < self.state.config.costs_min_interval:
                return refusal(1302, "API request rate limit exceeded: query account costs at most once a second")
            self.state.account.last_costs_query = now
        try:
            start = int(request.query_params["start_time"]) / 1000
            end = int(request.query_params["end_time"]) / 1000
        except (KeyError, ValueError):
            return refusal(1201, "Invalid parameter: start_time and end_time (ms) are required")
        name = request.query_params.get("resource_pack_name")
        with self.state.lock:
            data = self.state.account.costs(start, end, name, now)
        return envelope(0, "SUCCEED", data)

    async def create_element(self, request: Request) -> Response:
        early, body = await self.common(request)
        if early is not None:
            return early
        if body is None:
            return refusal(1200, "Invalid request: body must be a JSON object")
        if problem := element_create_error(body):
            return refusal(1201, f"Invalid parameter: {problem}")
        external = body.get("external_task_id")
        if external is not None and self.state.elements.find(external) is not None:
            return refusal(1201, f"Invalid parameter: external_task_id {external} already exists")
        config, now = self.state.config, self.state.clock()
        task = new_element_task(body, now, config.queue_seconds + config.run_seconds)
        self.state.elements.add(task)
        return envelope(0, "SUCCEED", task.view(now))

    async def query_element(self, request: Request) -> Response:
        early, _ = await self.common(request)
        if early is not None:
            return early
        if self.state.take_fault("query_server_error"):  # as a video task's query
            return envelope(5000, "Server internal error", status=500)
        task = self.state.elements.find(request.path_params["task_id"])
        if task is None:
            return refusal(1203, "Resource does not exist: element task not found")
        return envelope(0, "SUCCEED", task.view(self.state.clock()))

    async def list_elements(self, request: Request) -> Response:
        early, _ = await self.common(request)
        if early is not None:
            return early
        if (paging := _page(request)) is None:
            return refusal(1201, f"Invalid parameter: pageNum ≥ 1 and pageSize 1..{MAX_PAGE_SIZE}, integers")
        page, size = paging
        now = self.state.clock()
        chosen = self.state.elements.listing()[(page - 1) * size : page * size]
        return envelope(0, "SUCCEED", [t.view(now) for t in chosen])

    async def delete_element(self, request: Request) -> Response:
        early, body = await self.common(request)
        if early is not None:
            return early
        element_id = (body or {}).get("element_id")
        if not isinstance(element_id, str | int) or isinstance(element_id, bool) or str(element_id) == "":
            return refusal(1201, "Invalid parameter: element_id is required")
        if not self.state.elements.delete(str(element_id), self.state.clock()):
            return refusal(1203, f"Resource does not exist: element {element_id}")
        return envelope(0, "SUCCEED", {"element_id": str(element_id)})

    async def account_knobs(self, request: Request) -> Response:
        """Test hook (no auth, like /sandbox/faults): `{"remaining": units, "concurrency_limit": n | null}`."""
        try:
            changes = json.loads(await request.body() or b"{}")
            unknown = set(changes) - {"remaining", "concurrency_limit"}
            if unknown:
                raise ValueError(f"unknown sandbox account setting(s) {sorted(unknown)}")
            if "remaining" in changes:
                with self.state.lock:
                    self.state.account.set_remaining(float(changes["remaining"]), self.state.clock())
            if "concurrency_limit" in changes:
                limit = changes["concurrency_limit"]
                self.state.config.concurrency_limit = None if limit is None else int(limit)
        except (ValueError, TypeError, AttributeError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        with self.state.lock:
            packs = [p.view(self.state.clock()) for p in self.state.account.packs]
        return JSONResponse({"packs": packs, "concurrency_limit": self.state.config.concurrency_limit})

    async def reference_video(self, request: Request) -> Response:
        if not (match := REFERENCE_PATH.match(request.url.path)):
            return Response(status_code=404)
        # A video whose header says the length its name does, so fetching it (references.py) reads that length.
        return Response(with_seconds(self.video_bytes, float(match.group(1))), media_type="video/mp4")

    def routes(self) -> list[Route]:
        """The routes this module serves."""
        return [
            Route(COSTS, self.costs, methods=["GET"]),
            Route(ELEMENTS, self.create_element, methods=["POST"]),
            Route(ELEMENTS, self.list_elements, methods=["GET"]),
            Route(ELEMENTS + "/{task_id}", self.query_element, methods=["GET"]),
            Route(DELETE_ELEMENTS, self.delete_element, methods=["POST"]),
            Route("/sandbox/reference/{name}", self.reference_video, methods=["GET"]),
            Route("/sandbox/account", self.account_knobs, methods=["POST"]),
        ]
