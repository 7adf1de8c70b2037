"""The edge every MCP answer passes: two server middlewares, so they see every request on every transport
(stdio, streamable HTTP, in memory) and no tool can forget them.

`Edge` scrubs credentials from results and errors, whatever produced them, after the SDK has built the wire result.
Argument errors are worded where tools validate their arguments (`server/model_tool.py`, `server/tool_errors.py`).

`DeclaredOnly`: the server declares only what it has, and a name it does not have is a protocol error, not a crash.
The SDK's `MCPServer` always serves prompts, so it declares a `prompts` capability with no prompts behind it and
answers `prompts/get` of any name with an internal error (over stdio: code 0 and a traceback). An unknown tool
comes back from it as a tool result with `isError`, where the spec (2025-11-25 and the draft, "Tools: Error
Handling") makes it a protocol error: `-32602`, "Unknown tool: NAME". This middleware, outside every other one of
ours, fixes both on every transport with the SDK's public middleware hook.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS

from kling_mcp.redaction import Redactor

# The results that carry the server's capabilities: the 2025-11-25 handshake and the 2026-07-28 discovery.
CAPABILITY_RESULTS = frozenset({"initialize", "server/discover"})


class DeclaredOnly:
    """Server middleware: no `prompts` capability, and `-32602` for an unknown prompt or tool."""

    def __init__(self, tool_names: Iterable[str]) -> None:
        self.tool_names = frozenset(tool_names)

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        """Refuse unknown names before any handler runs; drop the empty capability from the declaration."""
        name = (ctx.params or {}).get("name")
        if ctx.method == "prompts/get":
            raise MCPError(INVALID_PARAMS, f"Unknown prompt: {name}")
        if ctx.method == "tools/call" and name not in self.tool_names:
            raise MCPError(INVALID_PARAMS, f"Unknown tool: {name}")
        result = await call_next(ctx)
        if ctx.method in CAPABILITY_RESULTS and isinstance(result, dict):
            capabilities = result.get("capabilities")
            if isinstance(capabilities, dict) and "prompts" in capabilities:
                return {**result, "capabilities": {k: v for k, v in capabilities.items() if k != "prompts"}}
        return result


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
