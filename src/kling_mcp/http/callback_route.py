"""The two routes Kling calls, both without authentication (Kling cannot send our bearer token): a token in the
path is the only key, a wrong or expired one gets the same bare 404 as any unknown path, and the token never reaches
a log (the access log's path goes through the redacting filter, `logs.py`).

- Callbacks, `POST /kling/callback/{external_task_id}/{token}`: answered at once and acted on afterwards; the token
  is checked before anything else, the body is capped and parsed but never taken as the result (see
  `service/callbacks/relay.py`).
- Lent reference videos, `GET /kling/reference/{token}` (HEAD too): nothing from the request but the token is used,
  the file served is the one registered under it (`service/prepare/reference_video.LentFiles`), never a path the
  request names.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from pydantic import ValidationError
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

from kling_mcp.api.models import Task
from kling_mcp.server.context import AppContext
from kling_mcp.service.callbacks.addresses import CALLBACK_PATH, CallbackAddress
from kling_mcp.service.prepare.reference_video import REFERENCE_PATH, LentFiles

logger = logging.getLogger(__name__)

ROUTE = CALLBACK_PATH + "/{external_task_id}/{token}"
REFERENCE_ROUTE = REFERENCE_PATH + "/{token}"
REFERENCE_METHODS = ["GET", "HEAD"]
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
    """The callback route's handler; `contexts` holds the server's AppContext once its lifespan has started."""

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


def reference_endpoint(lent_files: Callable[[], LentFiles | None]) -> Callable[[Request], Awaitable[Response]]:
    """The reference route's handler; `lent_files` gives the server's registry once its lifespan has started."""

    async def serve(request: Request) -> Response:
        files = lent_files()
        lent = files.find(request.path_params["token"]) if files is not None else None
        if lent is None:
            return Response(status_code=404)
        # Starlette's FileResponse answers HEAD with the headers only and serves single and multiple byte ranges.
        return FileResponse(lent.path, media_type=lent.content_type, headers={"Cache-Control": "no-store"})

    return serve
