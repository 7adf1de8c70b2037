"""Kling 3.0 on the generate tools (issue 23): storyboards, elements and voices, through a real MCP client, with
the body Kling receives asserted field by field against the sandbox (the oracle written from docs/kling-api.md)."""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client

from kling_mcp.api.capabilities import ROWS, Feature
from kling_mcp.sandbox.elements import new_element_task
from kling_mcp.sandbox.kling3 import ELEMENT_MODELS, MULTI_SHOT_MODELS, VOICE_MODELS
from kling_mcp.sandbox.runner import SandboxServer
from tests.conftest import text_of
from tests.names import GENERATE, TEXT

pytestmark = pytest.mark.anyio

IMAGE_URL = "https://images.example.com/lighthouse.png"


def task_of(result: Any) -> dict[str, Any]:
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    task: dict[str, Any] = result.structured_content["result"]
    return task


def sent(sandbox: SandboxServer) -> tuple[str, dict[str, Any]]:
    [create] = sandbox.state.creates()
    assert create.body is not None
    return create.path, create.body


def made_element(sandbox: SandboxServer) -> str:
    """An element the sandbox's account has finished making (as Kling's element endpoints would leave it)."""
    body = {"element_name": "keeper", "element_description": "the lighthouse keeper", "reference_type": "image_refer"}
    task = new_element_task(body, sandbox.state.clock() - 60, 0)
    sandbox.state.elements.add(task)
    return task.element_id


async def test_a_storyboard_from_text_is_one_task_with_its_shots_in_order(
    client: Client, sandbox: SandboxServer
) -> None:
    shots = [
        {"prompt": "a lighthouse at dusk, wide", "duration": 3},
        {"prompt": "the keeper climbs the stairs", "duration": "4"},  # a string of digits, as some clients send
        {"prompt": "the lamp turns on", "duration": 3},
    ]
    task = task_of(
        await client.call_tool(TEXT, {"prompt": "a stormy evening", "model": "kling-v3", "multi_prompt": shots})
    )
    assert task["status"] == "succeed"
    path, body = sent(sandbox)
    assert path == "/v1/videos/text2video"
    assert body == {
        "model_name": "kling-v3",
        "prompt": "a stormy evening",
        "mode": "std",
        "aspect_ratio": "16:9",
        "duration": "10",  # left out: the shots' total
        "multi_shot": True,
        "shot_type": "customize",
        "multi_prompt": [
            {"index": 1, "prompt": "a lighthouse at dusk, wide", "duration": "3"},
            {"index": 2, "prompt": "the keeper climbs the stairs", "duration": "4"},
            {"index": 3, "prompt": "the lamp turns on", "duration": "3"},
        ],
        "external_task_id": body["external_task_id"],
    }
    assert task["videos"][0]["duration"] == 10


async def test_an_intelligence_storyboard_from_an_image_leaves_the_cuts_to_kling(
    client: Client, sandbox: SandboxServer
) -> None:
    arguments = {
        "prompt": "waves break, the beam sweeps",
        "start_image_url": IMAGE_URL,
        "model": "kling-v3",
        "mode": "pro",
        "duration": 8,
        "shot_type": "intelligence",
    }
    task_of(await client.call_tool(GENERATE, arguments))
    path, body = sent(sandbox)
    assert path == "/v1/videos/image2video"
    assert body == {
        "model_name": "kling-v3",
        "image": IMAGE_URL,
        "prompt": "waves break, the beam sweeps",
        "mode": "pro",
        "duration": "8",
        "multi_shot": True,
        "shot_type": "intelligence",
        "external_task_id": body["external_task_id"],
    }


async def test_intelligence_with_shots_is_for_kling_to_judge(client: Client, sandbox: SandboxServer) -> None:
    """Whether Kling takes shots with shot_type intelligence is not documented: sent as asked, Kling's answer shown."""
    shots = [{"prompt": "a wave", "duration": 5}]
    arguments = {"prompt": "the sea", "model": "kling-v3", "shot_type": "intelligence", "multi_prompt": shots}
    result = await client.call_tool(TEXT, arguments)
    _, body = sent(sandbox)
    assert (body["shot_type"], body["multi_prompt"]) == (
        "intelligence",
        [{"index": 1, "prompt": "a wave", "duration": "5"}],
    )
    assert result.is_error and "multi_prompt must be empty when shot_type is intelligence" in text_of(result)
    assert not sandbox.state.tasks


async def test_elements_reach_image2video_by_id(client: Client, sandbox: SandboxServer) -> None:
    keeper, lamp = made_element(sandbox), made_element(sandbox)
    arguments = {
        "prompt": "the keeper lights the lamp",
        "start_image_url": IMAGE_URL,
        "model": "kling-v3",
        "element_list": [{"element_id": keeper}, {"element_id": lamp}],
    }
    task_of(await client.call_tool(GENERATE, arguments))
    _, body = sent(sandbox)
    assert body["element_list"] == [{"element_id": keeper}, {"element_id": lamp}]
    assert (body["model_name"], body["image"], body["duration"]) == ("kling-v3", IMAGE_URL, "5")
    assert "multi_shot" not in body and "voice_list" not in body and "sound" not in body


async def test_an_element_kling_does_not_know_is_its_refusal_and_no_task(
    client: Client, sandbox: SandboxServer
) -> None:
    arguments = {"prompt": "a keeper", "model": "kling-v3", "element_list": [{"element_id": "404"}]}
    result = await client.call_tool(TEXT, arguments)
    assert result.is_error
    assert "element_list[1].element_id 404 does not exist" in text_of(result)
    assert not sandbox.state.tasks


async def test_voices_turn_sound_on_and_are_billed_as_a_specified_voice(client: Client, sandbox: SandboxServer) -> None:
    arguments = {
        "prompt": "<<<voice_1>>> asks where the ship is; <<<voice_2>>> answers from the radio",
        "model": "kling-v3",
        "voice_list": [{"voice_id": "v_keeper"}, {"voice_id": "v_radio"}],
    }
    task = task_of(await client.call_tool(TEXT, arguments))
    _, body = sent(sandbox)
    assert body["sound"] == "on"  # generate_audio left out: a voice is speech
    assert body["voice_list"] == [{"voice_id": "v_keeper"}, {"voice_id": "v_radio"}]
    assert body["prompt"] == arguments["prompt"]
    # The sandbox's price: kling-v3 std, 3 units per 5 s, x2 with a specified voice (docs/kling-api.md).
    assert task["final_unit_deduction"] == "6"


async def test_voices_with_audio_off_are_sent_as_asked_for_kling_to_judge(
    client: Client, sandbox: SandboxServer
) -> None:
    arguments = {
        "prompt": "<<<voice_1>>> hums",
        "model": "kling-v3",
        "generate_audio": False,
        "voice_list": [{"voice_id": "v1"}],
    }
    result = await client.call_tool(TEXT, arguments)
    _, body = sent(sandbox)
    assert (body["sound"], body["voice_list"]) == ("off", [{"voice_id": "v1"}])
    assert result.is_error and "voice_list requires sound on" in text_of(result)


@pytest.mark.parametrize("tool", [TEXT, GENERATE])
async def test_voices_on_v2_6_are_for_kling_to_judge(client: Client, sandbox: SandboxServer, tool: str) -> None:
    """The table does not know (v2-6 is reported to take voices): sent, and Kling's refusal explained as such."""
    arguments = {
        "prompt": "<<<voice_1>>> sings",
        "model": "kling-v2-6",
        "mode": "pro",
        "voice_list": [{"voice_id": "v1"}],
    }
    if tool == GENERATE:
        arguments["start_image_url"] = IMAGE_URL
    result = await client.call_tool(tool, arguments)
    _, body = sent(sandbox)
    assert (body["model_name"], body["sound"], body["voice_list"]) == ("kling-v2-6", "on", [{"voice_id": "v1"}])
    text = text_of(result)
    assert result.is_error and "voice_list is not supported by kling-v2-6" in text
    assert "voice_list on kling-v2-6 was sent for Kling to judge" in text
    assert "use a model documented to take it: kling-v3" in text


async def test_the_omni_endpoint_gets_the_same_fields_for_kling_to_judge(
    client: Client, sandbox: SandboxServer
) -> None:
    shots = [{"prompt": "the door opens", "duration": 2}, {"prompt": "wind blows in", "duration": 3}]
    keeper = made_element(sandbox)
    arguments = {
        "prompt": "a storm",
        "start_image_url": IMAGE_URL,
        "model": "kling-v3-omni",
        "multi_prompt": shots,
        "element_list": [{"element_id": keeper}],
    }
    task_of(await client.call_tool(GENERATE, arguments))
    path, body = sent(sandbox)
    assert path == "/v1/videos/omni-video"
    assert body["image_list"] == [{"image_url": IMAGE_URL, "type": "first_frame"}]
    assert (body["multi_shot"], body["shot_type"], body["duration"]) == (True, "customize", "5")
    assert body["multi_prompt"] == [
        {"index": 1, "prompt": "the door opens", "duration": "2"},
        {"index": 2, "prompt": "wind blows in", "duration": "3"},
    ]
    assert body["element_list"] == [{"element_id": keeper}]


@pytest.mark.parametrize(
    ("feature", "sandbox_models"),
    [("multi_shot", MULTI_SHOT_MODELS), ("element_list", ELEMENT_MODELS), ("voice_list", VOICE_MODELS)],
)
def test_the_table_and_the_sandbox_agree_on_who_takes_them(feature: Feature, sandbox_models: set[str]) -> None:
    """Where the table is sure, the sandbox (read from the notes apart from it) agrees; where it says unknown, Kling
    judges (the sandbox may go either way). The omni endpoint included (issue 23)."""
    rows = list(ROWS)
    sure = {row.model for row in rows if row.rule(feature).support == "yes"}
    unknown = {row.model for row in rows if row.rule(feature).support == "unknown"}
    assert sure <= sandbox_models <= sure | unknown
