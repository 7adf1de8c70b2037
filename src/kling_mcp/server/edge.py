"""The edge every MCP answer passes: argument errors phrased one way for every tool, and credentials scrubbed.

It is one `ServerMiddleware`, so it sees every request on every transport (stdio, streamable HTTP, in memory) after
the SDK has built the wire result, and no tool can forget it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver.tools import Tool
from mcp.shared.exceptions import MCPError
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from kling_mcp.redaction import Redactor

NOTHING_SENT = "No request was sent to Kling."
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


def invalid_input_text(details: str) -> str:
    """The text of every argument error, whichever tool and whichever check found it."""
    return f"Invalid input: {details.rstrip('.')}. {NOTHING_SENT}"


class Edge:
    """Server middleware: rewrites SDK argument errors into our wording, and scrubs credentials from every answer."""

    def __init__(self, tools: Sequence[Tool], redactor: Redactor) -> None:
        self._tools = {tool.name: tool for tool in tools}
        self.redactor = redactor

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        """Run the request; phrase argument errors; scrub the result or the protocol error."""
        try:
            result = await call_next(ctx)
        except MCPError as exc:
            raise MCPError(exc.code, self.redactor.text(exc.message), self.redactor.value(exc.data)) from exc
        if ctx.method == "tools/call" and isinstance(result, dict) and result.get("isError"):
            result = self._phrase_argument_error(ctx.params, result)
        return self.redactor.value(result) if isinstance(result, dict) else result

    def _phrase_argument_error(self, params: Any, result: dict[str, Any]) -> dict[str, Any]:
        """If the call failed because its arguments do not validate, say why in our words (no model names)."""
        if not isinstance(params, dict):
            return result
        tool = self._tools.get(str(params.get("name")))
        arguments = params.get("arguments") or {}
        if tool is None or not isinstance(arguments, dict):
            return result
        try:
            # The same check the SDK ran; run again only on failure, so a valid call costs nothing extra here.
            tool.fn_metadata.validate_arguments(arguments)
        except ValidationError as exc:
            known = list(tool.parameters.get("properties", {}))
            text = f"Error executing tool {tool.name}: {invalid_input_text(describe_invalid_arguments(exc, known))}"
            return {**result, "content": [{"type": "text", "text": text}]}
        return result
