"""The one way a kling-mcp tool is defined: a Pydantic model for its arguments and an async handler (a `Binding`).

The model is both the published input schema (flattened by `flat_schema`) and the validator, so the
schema a client sees and the rules the server applies cannot drift apart (`server/schema_cache.py` keeps the
published schemas between starts, remade whenever the models' source changes). The MCP SDK (2.3) builds a tool's
schema from a function signature and nests a model parameter under its name; it has no public way to publish a
model's fields flat. The adapter that bridges that gap is `_PassThrough` below, and only it: the one SDK internal
this project leans on for tools (`ArgModelBase`/`FuncMetadata`), pinned to the SDK minor version tested and
checked by tests/test_sdk_internals.py (docs/tool-schemas.md). The output is validated here, with public Pydantic
calls, not by the SDK: its `FuncMetadata` is only told the published output schema.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypedDict, TypeVar

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.tools import Tool
from mcp.server.mcpserver.utilities.func_metadata import ArgModelBase, FuncMetadata
from mcp_types import CallToolResult, InputRequiredResult, TextContent, ToolAnnotations
from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import to_json

from kling_mcp.server.tool_errors import invalid_arguments

ArgumentsT = TypeVar("ArgumentsT", bound=BaseModel)
Handler = Callable[[Context, ArgumentsT], Awaitable[Any]]
_DEFS_PREFIX = "#/$defs/"


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


def flat_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema with every `$ref` replaced by its definition and no `$defs`.

    OpenAI's strict function conversion and Gemini's schema subset do not follow references (docs/tool-schemas.md);
    an inlined copy says the same thing to every client.
    """
    schema = model.model_json_schema(by_alias=True)
    definitions = schema.pop("$defs", {})
    inlined = _inline(lean(schema), lean(definitions), ())
    assert isinstance(inlined, dict)
    return inlined


def lean(node: Any, *, descriptions: bool = True) -> Any:
    """A schema without what tells a client nothing and every `tools/list` pays for (docs/tool-schemas.md): the
    titles pydantic derives from names, `"default": null` on optional fields, and the descriptions of models (their
    docstrings, written for us); with `descriptions=False` (an output's schema) no descriptions and no defaults at
    all. A key of `properties` is a name, kept."""
    if isinstance(node, list):
        return [lean(item, descriptions=descriptions) for item in node]
    if not isinstance(node, dict):
        return node
    kept: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("properties", "$defs"):
            kept[key] = {name: lean(schema, descriptions=descriptions) for name, schema in value.items()}
        elif (
            key == "title"
            or (key == "default" and (value is None or not descriptions))
            or (key == "description" and (not descriptions or "properties" in node))
        ):
            continue
        else:
            kept[key] = lean(value, descriptions=descriptions)
    return kept


def _inline(node: Any, definitions: dict[str, Any], seen: tuple[str, ...]) -> Any:
    if isinstance(node, list):
        return [_inline(item, definitions, seen) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith(_DEFS_PREFIX):
        name = ref.removeprefix(_DEFS_PREFIX)
        if name in seen:
            # A recursive model cannot be written out flat; none of ours is, and it must stay that way.
            raise ValueError(f"{name} refers to itself: a tool input must not be a recursive model")
        siblings = {key: value for key, value in node.items() if key != "$ref"}
        return _inline({**definitions[name], **siblings}, definitions, (*seen, name))
    return {key: _inline(value, definitions, seen) for key, value in node.items()}


@functools.cache
def _output_schema(output: type[BaseModel]) -> dict[str, Any]:
    # Three tools return the same model: its schema is made once, not once per tool. A result is described by the
    # tool's description and its text; the schema is for checking it, so it carries no descriptions.
    schema = _compact(lean(output.model_json_schema(by_alias=True), descriptions=False))
    assert isinstance(schema, dict)
    return schema


def _compact(node: Any) -> Any:
    """An output schema's unions in their short forms: `T | None` as `{"type": [T, "null"]}`, and a string that may
    be one of some names or any other string as a string (the names say nothing a client checks)."""
    if isinstance(node, list):
        return [_compact(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _compact(value) for key, value in node.items()}
    branches = node.get("anyOf")
    if isinstance(branches, list) and all(isinstance(b, dict) and set(b) <= {"type", "enum"} for b in branches):
        types = list(dict.fromkeys(b["type"] for b in branches if "type" in b))
        if all("type" in b for b in branches) and (
            len(types) < len(branches) or not any("enum" in b for b in branches)
        ):
            node.pop("anyOf")
            node["type"] = types[0] if len(types) == 1 else types
    return node


def checked_output(output: type[BaseModel], result: Any) -> CallToolResult | InputRequiredResult:
    """The handler's result as the tool's answer, its structured content validated against the output model.

    What the SDK does for a tool whose return annotation is `output` (a result that breaks the model is a crash,
    reported to the client without its details), done here so no SDK object is changed per call.
    """
    if isinstance(result, InputRequiredResult):
        return result
    if isinstance(result, CallToolResult):
        if not result.is_error:
            output.model_validate(result.structured_content)
        return result
    validated = output.model_validate(result, by_alias=True, by_name=True)
    return CallToolResult(
        content=[TextContent(type="text", text=to_json(result, fallback=str, indent=2).decode())],
        structured_content=validated.model_dump(mode="json", by_alias=True),
    )


def published_schemas(binding: Binding[Any]) -> PublishedSchemas:
    """The schemas a tool publishes, made from its binding's models (`server/schema_cache.py` keeps them)."""
    if binding.arguments.model_config.get("extra") != "forbid":
        # A misspelt `duraton` must be refused, not ignored: the schema says so and validation does it.
        raise TypeError(f"{binding.arguments.__name__} must forbid extra fields to define a tool")
    return {"input": flat_schema(binding.arguments), "output": _output_schema(binding.output)}


def parsed_arguments(binding: Binding[ArgumentsT], arguments: dict[str, Any], name: str) -> ArgumentsT:
    """The arguments validated by the tool's model; else a tool error naming each field and rule (nothing is run)."""
    try:
        return binding.arguments.model_validate(arguments)
    except ValidationError as exc:
        raise invalid_arguments(exc, list(binding.arguments.model_fields), name) from exc


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
    # Published, not validated by the SDK (no output model): `checked_output` validates each result.
    metadata = FuncMetadata(arg_model=_PassThrough, output_schema=schemas["output"])

    async def call(arguments: dict[str, Any], ctx: Context) -> CallToolResult | InputRequiredResult:
        binding = bind()
        return checked_output(binding.output, await binding.handler(ctx, parsed_arguments(binding, arguments, name)))

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
