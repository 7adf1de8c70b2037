"""The route Kling fetches a lent reference video at: `GET /kling/reference/{token}` (HEAD too).

No authentication (Kling cannot send our bearer token), so the token is the only key: an unknown or expired one
gets the same bare 404 as any unknown path, and nothing from the request but the token is used: the file served is
the one registered under it (`service/prepare/reference_video.LentFiles`), never a path the request names. The
token never reaches a log: the access log's path goes through the redacting filter (`logs.py`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import FileResponse, Response

from kling_mcp.service.prepare.reference_video import REFERENCE_PATH, LentFiles

ROUTE = REFERENCE_PATH + "/{token}"
METHODS = ["GET", "HEAD"]


def reference_endpoint(lent_files: Callable[[], LentFiles | None]) -> Callable[[Request], Awaitable[Response]]:
    """The route's handler; `lent_files` gives the server's registry once its lifespan has started (else None)."""

    async def serve(request: Request) -> Response:
        files = lent_files()
        lent = files.find(request.path_params["token"]) if files is not None else None
        if lent is None:
            return Response(status_code=404)
        # Starlette's FileResponse answers HEAD with the headers only and serves single and multiple byte ranges.
        return FileResponse(lent.path, media_type=lent.content_type, headers={"Cache-Control": "no-store"})

    return serve
