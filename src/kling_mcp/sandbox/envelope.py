"""Kling's answer envelope and its error codes, shared by the sandbox's route modules."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.responses import JSONResponse

# Kling's documented code → HTTP status pairs, and the message it sends with each.
CODE_MESSAGES = {
    1000: "Authentication failed",
    1100: "Account exception",
    1101: "Account in arrears",
    1102: "Resource pack exhausted or expired",
    1103: "Unauthorized access to requested resource",
    1200: "Invalid request parameters",
    1301: "Content security policy triggered",
    1302: "API request rate limit exceeded",
    1303: "Concurrency or QPS limit of resource pack exceeded",
    1304: "IP whitelist restriction",
    5000: "Server internal error",
    5001: "Server temporarily unavailable",
    5002: "Server internal timeout",
}


def http_status_for(code: int) -> int:
    """The HTTP status Kling sends with an error code."""
    if 1000 <= code < 1100:
        return 401
    if code == 1103:
        return 403
    if 1100 <= code < 1200 or code in (1302, 1303, 1304):
        return 429
    if code in (1202, 1203):
        return 404
    if 1200 <= code < 1400:
        return 400
    return {5000: 500, 5001: 503, 5002: 504}.get(code, 500)


MAX_PAGE_SIZE = 500


def envelope(
    code: int, message: str, data: Any = None, *, status: int = 200, headers: dict[str, str] | None = None
) -> JSONResponse:
    """Kling's `{code, message, request_id, data}` answer."""
    body = {"code": code, "message": message, "request_id": str(uuid.uuid4()), "data": data}
    return JSONResponse(body, status_code=status, headers=headers)


def refusal(code: int, message: str | None = None, *, headers: dict[str, str] | None = None) -> JSONResponse:
    """Kling's error answer for `code`, with its usual message unless one is given."""
    text = message if message is not None else CODE_MESSAGES.get(code, "error")
    return envelope(code, text, status=http_status_for(code), headers=headers)
