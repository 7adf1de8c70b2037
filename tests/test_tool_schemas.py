"""Every tool's published input schema is accepted by the model clients people connect MCP servers to.

Checked with the real converters: the OpenAI Agents SDK in strict mode (`convert_schemas_to_strict=True`) and
google-genai's JSON-schema → Gemini schema conversion. See docs/tool-schemas.md for the google-genai bug the
workaround below stands for.
"""

from __future__ import annotations

import copy
from typing import Any, cast

import pytest
from agents import Agent, RunContextWrapper
from agents.mcp import MCPServer as AgentsMCPServer
from agents.tool import FunctionTool
from google.genai import types
from google.genai._mcp_utils import mcp_to_gemini_tool
from mcp import Client
from mcp_types import ListPromptsResult, RequestParamsMeta, Tool

from kling_mcp.server.tool_schema import flat_schema
from kling_mcp.service.inputs import VideoRequest

pytestmark = pytest.mark.anyio


class InMemoryAgentsServer(AgentsMCPServer):
    """The Agents SDK's view of our server, over an in-memory MCP client (its own transports spawn processes)."""

    def __init__(self, client: Client) -> None:
        super().__init__()
        self._client = client

    async def connect(self) -> None:
        """Already connected."""

    @property
    def name(self) -> str:
        return "kling-mcp"

    async def cleanup(self) -> None:
        """The test's client is closed by its fixture."""

    async def list_tools(self, run_context: Any = None, agent: Any = None) -> list[Any]:  # noqa: ARG002
        return list((await self._client.list_tools()).tools)

    async def call_tool(
        self, tool_name: str, arguments: dict[str, Any] | None, meta: dict[str, Any] | None = None
    ) -> Any:
        return await self._client.call_tool(tool_name, arguments or {}, meta=cast("RequestParamsMeta | None", meta))

    async def list_prompts(self) -> Any:
        return ListPromptsResult(prompts=[])

    async def get_prompt(self, name: str, arguments: dict[str, Any] | None = None) -> Any:
        raise NotImplementedError(name, arguments)


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


async def test_no_references_and_no_keywords_outside_gemini_subset(client: Client) -> None:
    gemini = {field.alias or name for name, field in types.JSONSchema.model_fields.items()} - {"$ref", "$defs"}
    for tool in await published(client):
        used = keywords(tool.input_schema)
        assert "$ref" not in used and "$defs" not in used, tool.name
        assert used <= gemini, (tool.name, used - gemini)


async def test_openai_agents_strict_conversion_accepts_every_tool(client: Client) -> None:
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


async def test_google_genai_converts_every_tool(client: Client) -> None:
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
