"""What an MCP client and its model see: annotations, descriptions, and progress notifications over stdio."""

from __future__ import annotations

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS

from kling_mcp.config import Settings
from kling_mcp.sandbox.runner import SandboxServer
from tests.conftest import EXAMPLE_PNG, stdio_params, text_of
from tests.names import (
    CREATE_ELEMENT,
    CREDITS,
    DELETE_ELEMENT,
    GENERATE,
    GET,
    GET_ELEMENT,
    LIST,
    LIST_ELEMENTS,
    MODELS,
    MOTION,
    TEXT,
)

pytestmark = pytest.mark.anyio


# (read_only, destructive, idempotent, open_world) as the MCP spec defines the hints; destructive only means
# something for a tool that is not read-only.
EXPECTED_HINTS: dict[str, tuple[bool, bool | None, bool, bool]] = {
    GENERATE: (False, False, False, True),  # creates a paid task at Kling: never idempotent
    TEXT: (False, False, False, True),
    MOTION: (False, False, False, True),
    GET: (False, False, True, True),  # may save the video to disk (download): not read-only, but repeatable
    LIST: (True, None, True, False),  # reads the local journal only
    CREATE_ELEMENT: (False, False, False, True),  # a Kling task each call
    LIST_ELEMENTS: (True, None, True, False),  # the local journal only
    GET_ELEMENT: (False, False, True, True),  # records Kling's answer in the journal
    DELETE_ELEMENT: (False, True, True, True),  # cannot be undone; deleting again changes nothing
    CREDITS: (True, None, True, True),  # asks Kling for the account's packs; changes nothing
    MODELS: (True, None, True, False),  # reads the capability table only
}


async def test_every_tool_has_a_title_and_honest_annotations(client: Client) -> None:
    tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert set(tools) == set(EXPECTED_HINTS)
    for name, (read_only, destructive, idempotent, open_world) in EXPECTED_HINTS.items():
        annotations = tools[name].annotations
        assert annotations is not None, name
        assert annotations.title and annotations.title == tools[name].title, name
        assert annotations.read_only_hint is read_only, name
        assert annotations.destructive_hint is destructive, name
        assert annotations.idempotent_hint is idempotent, name
        assert annotations.open_world_hint is open_world, name


async def test_descriptions_tell_the_model_cost_time_and_what_to_do_next(client: Client) -> None:
    tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    generate = tools[GENERATE].description or ""
    # What it does (the spec's own first sentence), what it costs, how long, what to do after a timeout.
    assert generate.startswith("Generate AI video by animating a start image, end image, or both.")
    assert "paid Kling task" in generate
    assert "30 s to several minutes" in generate
    assert f"call {GET} with that task_id" in generate
    assert "Never call this tool again for the same video" in generate
    assert "30 days" in generate
    get = tools[GET].description or ""
    assert "Costs nothing at Kling" in get and "download=true" in get and "timed out" in get
    assert "does not contact Kling" in (tools[LIST].description or "")
    download = tools[GET].input_schema["properties"]["download"]
    assert "KLING_MCP_DOWNLOAD_DIR" in download["description"]
    assert "download" not in tools[GENERATE].input_schema["properties"]
    assert GET in (client.instructions or "") and "billed" in (client.instructions or "")


async def test_only_what_exists_is_declared(client: Client) -> None:
    """No `prompts` capability: the server has no prompts (the SDK declares one regardless)."""
    capabilities = client.server_capabilities
    assert capabilities is not None
    assert capabilities.prompts is None
    assert capabilities.tools is not None and capabilities.resources is not None  # the tools and the player view


async def assert_unknown_names_are_invalid_params(client: Client) -> None:
    with pytest.raises(MCPError) as prompt:
        await client.get_prompt("summarise")
    assert (prompt.value.error.code, prompt.value.error.message) == (INVALID_PARAMS, "Unknown prompt: summarise")
    # The spec's "Tools: Error Handling" (2025-11-25 and the draft): an unknown tool is a protocol error, -32602.
    with pytest.raises(MCPError) as tool:
        await client.call_tool("kling_delete_all", {})
    assert (tool.value.error.code, tool.value.error.message) == (INVALID_PARAMS, "Unknown tool: kling_delete_all")


async def test_unknown_prompt_and_unknown_tool_are_invalid_params(client: Client) -> None:
    await assert_unknown_names_are_invalid_params(client)
    assert not (await client.call_tool(LIST, {})).is_error  # and a known tool still answers


@pytest.mark.slow
async def test_unknown_names_over_stdio_are_invalid_params_without_a_traceback(settings: Settings) -> None:
    async with Client(stdio_params(settings), mode="legacy") as client:
        await assert_unknown_names_are_invalid_params(client)


@pytest.mark.slow
async def test_progress_notifications_arrive_over_stdio(settings: Settings, sandbox: SandboxServer) -> None:
    """The client sees "processing · N s elapsed" while the server waits, through a real stdio subprocess."""
    sandbox.state.config.queue_seconds = 0.3
    sandbox.state.config.run_seconds = 2.5
    updates: list[tuple[float, float | None, str]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        updates.append((progress, total, message or ""))

    params = stdio_params(settings, KLING_MCP_POLL_MIN_INTERVAL="0.3", KLING_MCP_POLL_MAX_INTERVAL="0.5")
    async with Client(params, mode="legacy") as client:
        result = await client.call_tool(
            GENERATE,
            {"prompt": "fog lifts off a lake", "start_image_url": str(EXAMPLE_PNG), "timeout": 30},
            progress_callback=on_progress,
        )
    assert not result.is_error, text_of(result)
    assert len(updates) >= 3, updates
    messages = [message for _, _, message in updates]
    assert any(m.startswith("processing · ") and m.endswith(" s elapsed") for m in messages), messages
    assert messages[-1].startswith("succeed · ")
    progress_values = [progress for progress, _, _ in updates]
    assert progress_values == sorted(progress_values), "progress must only grow"
    # No earlier task of this profile in the journal: no total while waiting (not the 30 s wait either); at the end
    # the progress is complete.
    assert all(total is None for _, total, _ in updates[:-1]), updates
    assert updates[-1][0] == updates[-1][1]
