"""Where failures become tool errors: each says what to change, and whether anything reached Kling."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import ValidationError

from kling_mcp.api.errors import KlingConnectionError
from kling_mcp.service.errors import InvalidInputError

if TYPE_CHECKING:
    from kling_mcp.server.context import AppContext

NOTHING_SENT = "No request was sent to Kling."


def describe_validation_error(exc: ValidationError) -> str:
    """One line per problem: `field: rule (got value)`."""
    lines = []
    for error in exc.errors(include_url=False):
        field = ".".join(str(p) for p in error["loc"]) or "arguments"
        message = error["msg"].removeprefix("Value error, ")
        got = error.get("input")
        shown = f" (got {got!r:.80})" if isinstance(got, str | int | float) and error["type"] != "value_error" else ""
        lines.append(f"{message}{shown}" if message.startswith(field) else f"{field}: {message}{shown}")
    return "; ".join(lines)


def invalid_arguments(exc: ValidationError) -> ToolError:
    """The tool error for arguments that break the tool's input model."""
    return ToolError(f"Invalid input: {describe_validation_error(exc)}. {NOTHING_SENT}")


def to_tool_error(exc: Exception, app: AppContext) -> ToolError:
    """Turn any anticipated failure into a tool error whose text says what to change."""
    if isinstance(exc, ValidationError):
        return invalid_arguments(exc)
    if isinstance(exc, InvalidInputError):
        return ToolError(f"Invalid input: {exc}. {NOTHING_SENT}")
    if isinstance(exc, KlingConnectionError):
        return ToolError(f"{exc} (Kling API at {app.api_base_url}).")
    return ToolError(str(exc))
