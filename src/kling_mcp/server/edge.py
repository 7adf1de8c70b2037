"""The edge every MCP answer passes: credentials scrubbed from results and errors, whatever produced them.

It is one `ServerMiddleware`, so it sees every request on every transport (stdio, streamable HTTP, in memory) after
the SDK has built the wire result, and no tool can forget it. Argument errors are worded where tools validate
their arguments (`server/model_tool.py`, `server/tool_errors.py`).
"""

from __future__ import annotations

from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.shared.exceptions import MCPError

from kling_mcp.redaction import Redactor


class Edge:
    """Server middleware: scrubs credentials from every answer and every protocol error."""

    def __init__(self, redactor: Redactor) -> None:
        self.redactor = redactor

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        """Run the request; scrub the result or the protocol error."""
        try:
            result = await call_next(ctx)
        except MCPError as exc:
            raise MCPError(exc.code, self.redactor.text(exc.message), self.redactor.value(exc.data)) from exc
        return self.redactor.value(result) if isinstance(result, dict) else result
