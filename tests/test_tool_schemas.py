"""Every tool's published input schema is accepted by the model clients people connect MCP servers to.

Checked with the real converters: the OpenAI Agents SDK in strict mode (`convert_schemas_to_strict=True`) and
google-genai's JSON-schema → Gemini schema conversion. See docs/tool-schemas.md for the google-genai bug the
workaround below stands for. Importing those two SDKs takes seconds, so their tests are slow and import them
themselves; the fast lane checks what they rely on (flat schemas that refuse unknown arguments).
"""

from __future__ import annotations

import copy
import json
from typing import Any

import httpx
import pytest
from mcp import Client
from mcp.client.extension import advertise
from mcp.server.apps import APP_MIME_TYPE, EXTENSION_ID
from mcp_types import Tool

from kling_mcp.config import Settings
from kling_mcp.server.build import build_server
from kling_mcp.server.model_tool import flat_schema
from kling_mcp.service.prepare.image_request import VideoRequest
from tests.names import GENERATE, TEXT, WATCH
from tests.names import GET as GET_TOOL
from tests.names import LIST as LIST_TOOL

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


def fake_gemini(sent: list[dict[str, Any]], answer_parts: list[dict[str, Any]]) -> httpx.AsyncClient:
    """An HTTP client on which Gemini's API records each request body and answers with `answer_parts`."""

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        candidate = {"content": {"role": "model", "parts": answer_parts}, "finishReason": "STOP"}
        return httpx.Response(200, json={"candidates": [candidate]})

    return httpx.AsyncClient(transport=httpx.MockTransport(answer))


@pytest.mark.slow  # imports google-genai
async def test_google_genai_mcp_session_path_crashes_on_additional_properties_false(client: Client) -> None:
    """google-genai 3.6.1 (the newest on PyPI, 2026-12): an MCP session in `tools` crashes on every tool of ours.

    `generate_content` converts the session's tools with `_mcp_utils.mcp_to_gemini_tool` (through
    `_adapters.McpToGenAiToolAdapter.tools`, in Developer API and Vertex mode alike), whose
    `_filter_to_supported_schema` recurses into `additionalProperties: false` as if it were a schema. We keep
    `false` (docs/tool-schemas.md); when this test fails, google-genai has fixed it: update that page.
    """
    from google import genai
    from google.genai import types

    sent: list[dict[str, Any]] = []
    for vertex in (False, True):
        gemini = genai.Client(
            vertexai=vertex,
            api_key="test-key",
            http_options=types.HttpOptions(httpx_async_client=fake_gemini(sent, [{"text": "ok"}])),
        )
        with pytest.raises(AttributeError, match="'bool' object has no attribute 'items'"):
            # A dict config: google-genai deep-copies a GenerateContentConfig, which an MCP 2.x session refuses.
            await gemini.aio.models.generate_content(
                model="gemini-2.5-flash", contents="list my videos", config={"tools": [client.session]}
            )
    assert sent == []  # it fails before asking Gemini anything


@pytest.mark.slow  # imports google-genai
async def test_google_genai_declared_tools_keep_the_schema_and_call_the_server(client: Client) -> None:
    """The supported Gemini path (docs/tool-schemas.md): declare each tool with `parameters_json_schema`."""
    from google import genai
    from google.genai import types

    tools = await published(client)
    sent: list[dict[str, Any]] = []
    call = {"functionCall": {"name": LIST_TOOL, "args": {"limit": 5}}}
    gemini = genai.Client(
        api_key="test-key", http_options=types.HttpOptions(httpx_async_client=fake_gemini(sent, [call]))
    )
    declarations = [
        types.FunctionDeclaration(name=t.name, description=t.description, parameters_json_schema=t.input_schema)
        for t in tools
    ]
    response = await gemini.aio.models.generate_content(
        model="gemini-2.5-flash",
        contents="list my last five videos",
        config=types.GenerateContentConfig(tools=[types.Tool(function_declarations=declarations)]),
    )
    [request] = sent
    declared = request["tools"][0]["functionDeclarations"]  # google-genai 3.6.1 sends the field in snake case
    on_the_wire = {d["name"]: d.get("parameters_json_schema", d.get("parametersJsonSchema")) for d in declared}
    assert on_the_wire == {t.name: t.input_schema for t in tools}  # as published: additionalProperties: false kept
    [function_call] = response.function_calls or []
    assert function_call.name == LIST_TOOL and function_call.args == {"limit": 5}
    result = await client.call_tool(function_call.name, function_call.args)
    assert not result.is_error, result


@pytest.mark.slow  # imports google-genai
async def test_google_genai_converter_takes_the_schemas_without_additional_properties(client: Client) -> None:
    """The other workaround: drop `additionalProperties` before `mcp_to_gemini_tool` (google-genai's converter)."""
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
    assert config["properties"]["zoom"] == {"maximum": 10, "minimum": -10, "type": "number"}
    assert as_object["additionalProperties"] is False and config["additionalProperties"] is False


# The compact JSON of the `tools/list` result before issue 23 (4 tools for a plain client, 5 for an MCP Apps host,
# each repeating a 3.5 kB output schema): those tools, with the Kling 3.0 parameters in, are to take half of it at
# most; and the whole listing, with the tools issues 22 and 23 added (motion, elements, credits, models), no more
# than those 4 (or 5) took before.
LISTING_BEFORE = {"plain": 30_498, "apps": 36_986}
TOOLS_BEFORE = {GENERATE, TEXT, GET_TOOL, LIST_TOOL, WATCH}


@pytest.mark.parametrize("host", ["plain", "apps"])
async def test_the_listing_is_half_what_it_was(host: str, settings: Settings) -> None:
    extensions = [advertise(EXTENSION_ID, {"mimeTypes": [APP_MIME_TYPE]})] if host == "apps" else []
    async with Client(build_server(settings), extensions=extensions) as client:
        listed = await client.list_tools()
    size = len(listed.model_dump_json(by_alias=True, exclude_none=True))
    before = [tool for tool in listed.tools if tool.name in TOOLS_BEFORE]
    assert len(before) == (5 if host == "apps" else 4)
    kept = sum(len(tool.model_dump_json(by_alias=True, exclude_none=True)) for tool in before)
    assert kept <= LISTING_BEFORE[host] // 2, f"the tools there before take {kept:,} bytes for a {host} client"
    assert size <= LISTING_BEFORE[host], f"tools/list is {size:,} bytes for a {host} client"
    assert all("multi_prompt" in tool.input_schema["properties"] for tool in before if tool.name in (GENERATE, TEXT))
    assert "multi_prompt" in listed.tools[0].input_schema["properties"]
