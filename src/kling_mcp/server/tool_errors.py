"""Where failures become tool errors: one wording for every tool, saying what to change and what reached Kling."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from kling_mcp.api.errors import KlingConnectionError
from kling_mcp.server.descriptions import LIST_TOOL, MODELS_TOOL
from kling_mcp.service.failures import InvalidInputError, TaskNotFoundError

if TYPE_CHECKING:
    from kling_mcp.server.context import AppContext

NOTHING_SENT = "No request was sent to Kling."
# Tools that never contact Kling: for them "no request was sent" would suggest that one might have been.
NOTHING_DONE = "Nothing was done."
LOCAL_TOOLS = frozenset({LIST_TOOL, MODELS_TOOL})
# pydantic says "Input should be ..."; our messages say "`field` must be ...".
_SHOULD = re.compile(r"^(?:Input|String|Value|List|Dictionary|Object|Decimal|Number|Tuple|Set) should ")


def _field_of(error: ErrorDetails) -> str:
    # Union members add their type's name to the location (`str`, `function-after[...]`): not a field.
    return ".".join(str(p) for p in error["loc"] if not (isinstance(p, str) and ("[" in p or p in ("str", "int"))))


def _shown(value: Any) -> str:
    """A rejected scalar as the caller wrote it in JSON (`true`, `"five"`, `7.5`), cut short."""
    if value is None or isinstance(value, bool | int | float | str):
        text = json.dumps(value, ensure_ascii=False)
        return f" (got {text[:77] + '...' if len(text) > 80 else text})"
    return ""


def _describe(error: ErrorDetails, known: Sequence[str]) -> str:
    field, kind = _field_of(error), error["type"]
    if kind == "missing":
        return f"`{field}` is required"
    if kind == "extra_forbidden":
        if "." not in field and known:
            return f"`{field}` is not a parameter of this tool (it takes: {', '.join(known)})"
        return f"`{field}` is not permitted here"
    message = error["msg"].removeprefix("Value error, ")
    if kind == "value_error":  # our own validators' messages, which usually name the field already
        top = field.split(".")[0]
        return message if not field or message.startswith(top) else f"`{field}`: {message}"
    rule = _SHOULD.sub("must ", message)
    shown = "" if ", got " in rule else _shown(error.get("input"))
    return f"`{field}` {rule}{shown}" if field else rule


def describe_invalid_arguments(exc: ValidationError, known: Sequence[str] = ()) -> str:
    """One clause per problem, each naming the field and the rule: "`task_id` is required"."""
    clauses = dict.fromkeys(_describe(e, known) for e in exc.errors(include_url=False))
    return "; ".join(clauses)


def invalid_input_text(details: str, tool: str | None = None) -> str:
    """The text of every argument error, whichever tool and whichever check found it."""
    return f"Invalid input: {details.rstrip('.')}. {NOTHING_DONE if tool in LOCAL_TOOLS else NOTHING_SENT}"


def invalid_arguments(exc: ValidationError, known: Sequence[str] = (), tool: str | None = None) -> ToolError:
    """The tool error for arguments that break the `tool`'s input model (`known`: the tool's parameter names)."""
    return ToolError(invalid_input_text(describe_invalid_arguments(exc, known), tool))


def to_tool_error(exc: Exception, app: AppContext) -> ToolError:
    """Turn any anticipated failure into a tool error whose text says what to change."""
    if isinstance(exc, ValidationError):
        return invalid_arguments(exc)
    if isinstance(exc, InvalidInputError):
        return ToolError(invalid_input_text(str(exc)))
    if isinstance(exc, KlingConnectionError):
        return ToolError(f"{exc} (Kling API at {app.api_base_url}).")
    if isinstance(exc, TaskNotFoundError):  # the service names no tool: the step is worded here
        return ToolError(f"{exc} Use {LIST_TOOL} to see recent tasks.")
    return ToolError(str(exc))
