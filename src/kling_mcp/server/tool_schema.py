"""A tool's published input schema, made from its Pydantic model so that every model client accepts it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

_DEFS_PREFIX = "#/$defs/"


def flat_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema with every `$ref` replaced by its definition and no `$defs`.

    OpenAI's strict function conversion and Gemini's schema subset do not follow references (docs/tool-schemas.md);
    an inlined copy says the same thing to every client.
    """
    schema = model.model_json_schema(by_alias=True)
    definitions = schema.pop("$defs", {})
    inlined = _inline(schema, definitions, ())
    assert isinstance(inlined, dict)
    return inlined


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
