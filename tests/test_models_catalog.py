"""What each model takes, live (issue 23, item 5): the `kling://capabilities` resource and the `kling_list_models`
tool, through a real client, read off the capability table (never a hand-kept copy)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from mcp import Client

from kling_mcp.api.capabilities import ROWS
from kling_mcp.sandbox.runner import SandboxServer
from tests.conftest import text_of
from tests.names import GENERATE, MODELS, TEXT

pytestmark = pytest.mark.anyio

URI = "kling://capabilities"
JUDGED = "unknown: sent, Kling judges"


def by_row(catalog: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(entry["model"], entry["endpoint"]): entry for entry in catalog["models"]}


async def test_the_resource_is_listed_and_reads_as_the_table(client: Client) -> None:
    [listed] = [r for r in (await client.list_resources()).resources if str(r.uri) == URI]
    assert listed.mime_type == "application/json" and listed.description
    [content] = (await client.read_resource(URI)).contents
    catalog = json.loads(getattr(content, "text", ""))
    rows = by_row(catalog)
    assert list(rows) == [(row.model, row.endpoint) for row in ROWS]  # every row, in the table's order
    assert rows[("kling-v3", "text2video")] == {
        "model": "kling-v3",
        "endpoint": "text2video",
        "tool": TEXT,
        "modes": ["std", "pro", "4k"],
        "durations": list(range(3, 16)),
        "aspect_ratios": ["16:9", "9:16", "1:1"],
        "features": {
            "generate_audio": "yes",
            "cfg_scale": JUDGED,
            "multi_prompt": "yes",
            "element_list": "yes",
            "voice_list": "yes",
        },
        "kling_judges": [f"mode 4k: {JUDGED}"],
    }
    # kling-video-o1: its durations, audio and storyboards are not in the notes' capability map: Kling judges them.
    assert rows[("kling-video-o1", "omni-video")] == {
        "model": "kling-video-o1",
        "endpoint": "omni-video",
        "tool": GENERATE,
        "modes": ["std", "pro"],
        "durations": list(range(3, 16)),
        "aspect_ratios": ["16:9", "9:16", "1:1"],
        "features": {
            "end_image_url": "yes",
            "generate_audio": JUDGED,
            "multi_prompt": JUDGED,
            "element_list": JUDGED,
        },
        "kling_judges": [f"duration 3-15 s: {JUDGED}"],
    }
    assert rows[("kling-v2-6", "image2video")]["features"] == {
        "end_image_url": "yes (pro only, not with generate_audio)",
        "generate_audio": "yes (pro only)",
        "voice_list": JUDGED,
    }
    assert rows[("kling-v1-5", "image2video")]["features"]["camera_control"] == "yes (pro only, 5 s only)"
    omni = rows[("kling-v3-omni", "omni-video")]
    assert (omni["tool"], omni["aspect_ratios"]) == (GENERATE, ["16:9", "9:16", "1:1"])
    assert omni["features"]["multi_prompt"] == omni["features"]["element_list"] == JUDGED
    plain = rows[("kling-v2-master", "image2video")]  # no feature; the video keeps the image's ratio
    assert (plain["features"], plain["aspect_ratios"]) == ({}, [])
    assert "Kling judges" in catalog["legend"]


async def test_the_tool_answers_what_the_resource_holds(client: Client) -> None:
    everything = await client.call_tool(MODELS, {})
    assert not everything.is_error, text_of(everything)
    [content] = (await client.read_resource(URI)).contents
    assert everything.structured_content == json.loads(getattr(content, "text", ""))
    one = await client.call_tool(MODELS, {"model": "kling-v3"})
    assert one.structured_content is not None
    assert [(e["model"], e["endpoint"]) for e in one.structured_content["models"]] == [
        ("kling-v3", "image2video"),
        ("kling-v3", "text2video"),
        ("kling-v3", "motion-control"),
    ]


async def test_an_unknown_model_is_refused_naming_the_known_ones(client: Client, sandbox: SandboxServer) -> None:
    result = await client.call_tool(MODELS, {"model": "kling-v9"})
    assert result.is_error
    text = text_of(result)
    assert "kling-v9" in text and "kling-v3-omni" in text and "Nothing was done" in text
    assert sandbox.state.requests == []  # it never contacts Kling


async def test_descriptions_point_to_the_catalog(client: Client) -> None:
    tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    for name in (GENERATE, TEXT):
        assert MODELS in (tools[name].description or ""), name
    assert URI in (tools[MODELS].description or "")
    annotations = tools[MODELS].annotations
    assert annotations is not None and annotations.read_only_hint is True
