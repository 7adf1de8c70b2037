"""Every tool's published input schema is accepted by the model clients people connect MCP servers to.

Checked with the real converters: the OpenAI Agents SDK in strict mode (`convert_schemas_to_strict=True`) and
google-genai's JSON-schema → Gemini schema conversion. See docs/tool-schemas.md for the google-genai bug the
workaround below stands for. Importing those two SDKs takes seconds, so their tests are slow and import them
themselves; the fast lane checks what they rely on (flat schemas that refuse unknown arguments).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from mcp import Client
from mcp_types import Tool

from kling_mcp.server.tool_schema import flat_schema
from kling_mcp.service.inputs import VideoRequest

pytestmark = pytest.mark.anyio


def keywords(schema: Any) -> set[str]:
    """Every keyword used anywhere in a schema (property names excluded)."""
    found: set[str] = set()
    if isinstance(schema, list):
        for item in schema:
            found |= keywords(item)
    elif isinstance(schema, dict):
        for key, value in schema.items():
            found.add(key)
            if key == "properties":
                for sub in value.values():
                    found |= keywords(sub)
            else:
                found |= keywords(value)
    return found


def without_additional_properties(schema: Any) -> Any:
    """The documented workaround for google-genai's converter (it crashes on `additionalProperties: false`)."""
    if isinstance(schema, list):
        return [without_additional_properties(item) for item in schema]
    if isinstance(schema, dict):
        return {k: without_additional_properties(v) for k, v in schema.items() if k != "additionalProperties"}
    return schema


async def published(client: Client) -> list[Tool]:
    return list((await client.list_tools()).tools)


async def test_schemas_are_flat_and_refuse_unknown_arguments(client: Client) -> None:
    """What every converter below relies on: no references to resolve, and a misspelt argument stays an error."""
    for tool in await published(client):
        used = keywords(tool.input_schema)
        assert "$ref" not in used and "$defs" not in used, tool.name
        assert tool.input_schema["additionalProperties"] is False, tool.name


@pytest.mark.slow  # imports google-genai
async def test_no_keywords_outside_gemini_subset(client: Client) -> None:
    from google.genai import types

    gemini = {field.alias or name for name, field in types.JSONSchema.model_fields.items()} - {"$ref", "$defs"}
    for tool in await published(client):
        used = keywords(tool.input_schema)
        assert used <= gemini, (tool.name, used - gemini)


@pytest.mark.slow  # imports the OpenAI Agents SDK
async def test_openai_agents_strict_conversion_accepts_every_tool(client: Client) -> None:
    from agents import Agent, RunContextWrapper
    from agents.tool import FunctionTool

    from tests.agents_view import InMemoryAgentsServer

    agent = Agent(
        name="probe", mcp_servers=[InMemoryAgentsServer(client)], mcp_config={"convert_schemas_to_strict": True}
    )
    tools = {t.name: t for t in await agent.get_mcp_tools(RunContextWrapper(context=None))}
    assert set(tools) == {t.name for t in await published(client)}
    for name, tool in tools.items():
        assert isinstance(tool, FunctionTool)
        # The SDK falls back to a non-strict schema, silently, when the conversion fails.
        assert tool.strict_json_schema, name
        assert tool.params_json_schema["additionalProperties"] is False, name


@pytest.mark.slow  # imports google-genai
async def test_google_genai_converts_every_tool(client: Client) -> None:
    from google.genai import types
    from google.genai._mcp_utils import mcp_to_gemini_tool

    for tool in await published(client):
        assert tool.input_schema["additionalProperties"] is False, "unknown argument names stay refused"
        fixed = copy.copy(tool)
        fixed.input_schema = without_additional_properties(tool.input_schema)
        declaration = mcp_to_gemini_tool(fixed).function_declarations
        assert declaration is not None
        [function] = declaration
        assert function.parameters is not None and function.parameters.properties is not None
        assert set(function.parameters.properties) == set(tool.input_schema["properties"]), tool.name
        # The native JSON-schema path takes the schema as published, additionalProperties included.
        types.FunctionDeclaration(name=tool.name, parameters_json_schema=tool.input_schema)


def test_flat_schema_inlines_the_camera_control_object() -> None:
    camera = flat_schema(VideoRequest)["properties"]["camera_control"]
    [as_text, as_object, absent] = camera["anyOf"]
    assert as_text == {"type": "string"} and absent == {"type": "null"}
    assert as_object["properties"]["type"]["enum"] == [
        "simple",
        "down_back",
        "forward_up",
        "right_turn_forward",
        "left_turn_forward",
    ]
    [config, no_config] = as_object["properties"]["config"]["anyOf"]
    assert no_config == {"type": "null"}
    assert config["properties"]["zoom"] == {
        "default": 0,
        "maximum": 10,
        "minimum": -10,
        "title": "Zoom",
        "type": "number",
    }
    assert as_object["additionalProperties"] is False and config["additionalProperties"] is False
