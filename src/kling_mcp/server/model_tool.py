"""The one way a kling-mcp tool is defined: a Pydantic model for its arguments and an async handler.

The model is both the published input schema (flattened by `tool_schema.flat_schema`) and the validator, so the
schema a client sees and the rules the server applies cannot drift apart. The MCP SDK (2.3) builds a tool's
schema from a function signature and nests a model parameter under its name; it has no way to publish a model's
fields flat. The adapter that bridges that gap is `_PassThrough` below, and only it (docs/tool-schemas.md).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.tools import Tool
from mcp.server.mcpserver.utilities.func_metadata import ArgModelBase, FuncMetadata
from mcp_types import ToolAnnotations
from pydantic import BaseModel, ConfigDict, ValidationError

from kling_mcp.server.tool_errors import invalid_arguments
from kling_mcp.server.tool_schema import flat_schema

ArgumentsT = TypeVar("ArgumentsT", bound=BaseModel)
Handler = Callable[[Context, ArgumentsT], Awaitable[Any]]


class _PassThrough(ArgModelBase):
    """Hands the raw arguments on untouched: the tool's own model validates them (see `model_tool`)."""

    model_config = ConfigDict(extra="allow")

    def model_dump_one_level(self) -> dict[str, Any]:
        """The SDK calls the tool with these keyword arguments: all the client's arguments as one dict."""
        return {"arguments": dict(self.model_extra or {})}


@functools.cache
def _output_schema(output: type[BaseModel]) -> dict[str, Any] | None:
    # Three tools return the same model: its schema is made once, as the SDK makes it, not once per tool.
    return FuncMetadata(arg_model=_PassThrough, output_model=output).output_schema


def model_tool(
    model: type[ArgumentsT],
    handler: Handler[ArgumentsT],
    *,
    name: str,
    title: str,
    description: str,
    annotations: ToolAnnotations,
    output: type[BaseModel],
    meta: dict[str, Any] | None = None,
) -> Tool:
    """A tool whose input schema is `model`'s flat schema and whose calls are validated by `model`.

    Invalid arguments become one clear tool error naming each field and rule, before the handler runs.
    """
    if model.model_config.get("extra") != "forbid":
        # A misspelt `duraton` must be refused, not ignored: the schema says so and validation does it.
        raise TypeError(f"{model.__name__} must forbid extra fields to define a tool")

    known = list(model.model_fields)

    async def call(arguments: dict[str, Any], ctx: Context) -> Any:
        try:
            parsed = model.model_validate(arguments)
        except ValidationError as exc:
            raise invalid_arguments(exc, known) from exc
        return await handler(ctx, parsed)

    return Tool(
        fn=call,
        name=name,
        title=title,
        description=description,
        parameters=flat_schema(model),
        fn_metadata=FuncMetadata(arg_model=_PassThrough, output_model=output, output_schema=_output_schema(output)),
        is_async=True,
        context_kwarg="ctx",
        annotations=annotations,
        meta=meta,
    )
