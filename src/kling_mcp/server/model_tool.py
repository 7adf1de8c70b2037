"""The one way a kling-mcp tool is defined: a Pydantic model for its arguments and an async handler (a `Binding`).

The model is both the published input schema (flattened by `tool_schema.flat_schema`) and the validator, so the
schema a client sees and the rules the server applies cannot drift apart (`server/schema_cache.py` keeps the
published schemas between starts, remade whenever the models' source changes). The MCP SDK (2.3) builds a tool's
schema from a function signature and nests a model parameter under its name; it has no way to publish a model's
fields flat. The adapter that bridges that gap is `_PassThrough` below, and only it (docs/tool-schemas.md).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypedDict, TypeVar

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.tools import Tool
from mcp.server.mcpserver.utilities.func_metadata import ArgModelBase, FuncMetadata
from mcp_types import ToolAnnotations
from pydantic import BaseModel, ConfigDict, ValidationError

from kling_mcp.server.tool_errors import invalid_arguments
from kling_mcp.server.tool_schema import flat_schema

ArgumentsT = TypeVar("ArgumentsT", bound=BaseModel)
Handler = Callable[[Context, ArgumentsT], Awaitable[Any]]


@dataclass(frozen=True)
class Binding(Generic[ArgumentsT]):
    """What a tool runs: the model its arguments are validated with, its handler, and the model of its output."""

    arguments: type[ArgumentsT]
    handler: Handler[ArgumentsT]
    output: type[BaseModel]


class PublishedSchemas(TypedDict):
    """What a client sees of a tool's models: its flat input schema and its output schema."""

    input: dict[str, Any]
    output: dict[str, Any] | None


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


def published_schemas(binding: Binding[Any]) -> PublishedSchemas:
    """The schemas a tool publishes, made from its binding's models (`server/schema_cache.py` keeps them)."""
    if binding.arguments.model_config.get("extra") != "forbid":
        # A misspelt `duraton` must be refused, not ignored: the schema says so and validation does it.
        raise TypeError(f"{binding.arguments.__name__} must forbid extra fields to define a tool")
    return {"input": flat_schema(binding.arguments), "output": _output_schema(binding.output)}


def model_tool(
    bind: Callable[[], Binding[Any]],
    schemas: PublishedSchemas,
    *,
    name: str,
    title: str,
    description: str,
    annotations: ToolAnnotations,
    meta: dict[str, Any] | None = None,
) -> Tool:
    """A tool publishing `schemas` whose calls are validated by, and handed to, what `bind` returns.

    `bind` is called on each call (so the handlers' modules load on the first one, not at start). Invalid arguments
    become one clear tool error naming each field and rule, before the handler runs.
    """
    metadata = FuncMetadata(arg_model=_PassThrough, output_schema=schemas["output"])

    async def call(arguments: dict[str, Any], ctx: Context) -> Any:
        binding = bind()
        # The SDK validates what the handler returns against `output_model`, which it reads on each call.
        metadata.output_model = binding.output
        try:
            parsed = binding.arguments.model_validate(arguments)
        except ValidationError as exc:
            raise invalid_arguments(exc, list(binding.arguments.model_fields), name) from exc
        return await binding.handler(ctx, parsed)

    return Tool(
        fn=call,
        name=name,
        title=title,
        description=description,
        parameters=schemas["input"],
        fn_metadata=metadata,
        is_async=True,
        context_kwarg="ctx",
        annotations=annotations,
        meta=meta,
    )
