"""The route Kling's callbacks arrive at: `POST /kling/callback/{external_task_id}/{token}`.

It answers at once and acts afterwards: the token is checked before anything else (a wrong one gets the same 404
as any unknown path), the body is capped and parsed but never taken as the result (see `service/callbacks/relay.py`).
The token never reaches a log: the access log's path goes through the redacting filter (`logs.py`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from pydantic import ValidationError
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kling_mcp.api.models import Task
from kling_mcp.server.context import AppContext
from kling_mcp.service.callbacks.addresses import CALLBACK_PATH, CallbackAddress

logger = logging.getLogger(__name__)

ROUTE = CALLBACK_PATH + "/{external_task_id}/{token}"
MAX_CALLBACK_BYTES = 64 * 1024  # a task object is a few hundred bytes; anything near this is not from Kling


class _TooLarge(Exception):
    pass


async def _capped_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_CALLBACK_BYTES:
        raise _TooLarge
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_CALLBACK_BYTES:
            raise _TooLarge
    return body


def callback_endpoint(address: CallbackAddress, contexts: list[AppContext]) -> Callable[[Request], Awaitable[Response]]:
    """The route's handler; `contexts` holds the server's AppContext once its lifespan has started."""

    async def receive(request: Request) -> Response:
        external_task_id = request.path_params["external_task_id"]
        if not address.is_valid(external_task_id, request.path_params["token"]):
            return Response(status_code=404)
        try:
            raw = await _capped_body(request)
            task = Task.model_validate_json(raw)
        except _TooLarge:
            return Response(status_code=413)
        except ValidationError:
            logger.warning("callback for task %s is not a task object; ignored", external_task_id)
            return JSONResponse({"error": "expected Kling's task object"}, status_code=400)
        if not contexts:
            return Response(status_code=503)
        context = contexts[-1]

        async def act() -> None:
            try:
                runtime = await context.runtime()
                if runtime.callbacks is not None:
                    await runtime.callbacks.handle(external_task_id, task)
            except Exception as exc:  # the safety-net poll still finds the task; the server stays up
                logger.warning("could not act on the callback for task %s: %s", external_task_id, exc)

        return JSONResponse({"received": True}, background=BackgroundTask(act))

    return receive
