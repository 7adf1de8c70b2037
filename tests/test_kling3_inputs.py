"""What callers send for Kling 3.0 (issue 23, the auditor's findings): list arguments as JSON text, a storyboard
without a top-level prompt, errors that name what the caller sent, aspect_ratio on image-to-video, numeric ids.
Through a real MCP client against the sandbox, with the body Kling receives asserted field by field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.client.session import ClientRequestContext
from mcp_types import ElicitRequestParams, ElicitResult, ErrorData

from kling_mcp.sandbox.runner import SandboxServer
from kling_mcp.server.build import build_server
from tests.conftest import FAST_RETRY, journal_entries, make_settings, text_of
from tests.names import GENERATE, GET, TEXT
from tests.test_kling3_generate import made_element, sent, task_of

pytestmark = pytest.mark.anyio

IMAGE_URL = "https://images.example.com/lighthouse.png"
SHOTS = [{"prompt": "a lighthouse at dusk", "duration": 3}, {"prompt": "the lamp turns on", "duration": 2}]
SENT_SHOTS = [
    {"index": 1, "prompt": "a lighthouse at dusk", "duration": "3"},
    {"index": 2, "prompt": "the lamp turns on", "duration": "2"},
]


def refused(result: Any, sandbox: SandboxServer) -> str:
    """The error's text, once it is sure nothing reached Kling."""
    text = text_of(result)
    assert result.is_error, text
    assert text.endswith("No request was sent to Kling."), text
    assert sandbox.state.requests == []
    return text


# --- 1. list and object arguments as JSON text (Claude clients stringify them: claude-code#24597)


async def test_storyboard_voices_and_elements_as_json_text_reach_kling_as_lists(
    client: Client, sandbox: SandboxServer
) -> None:
    keeper = made_element(sandbox)
    arguments = {
        "prompt": "<<<voice_1>>> greets the ships",
        "model": "kling-v3",
        "multi_prompt": json.dumps(SHOTS),
        "voice_list": '[{"voice_id": "v_keeper"}]',
        "element_list": json.dumps([{"element_id": keeper}]),
    }
    task_of(await client.call_tool(TEXT, arguments))
    path, body = sent(sandbox)
    assert path == "/v1/videos/text2video"
    assert body == {
        "model_name": "kling-v3",
        "prompt": "<<<voice_1>>> greets the ships",
        "mode": "std",
        "aspect_ratio": "16:9",
        "duration": "5",
        "sound": "on",
        "multi_shot": True,
        "shot_type": "customize",
        "multi_prompt": SENT_SHOTS,
        "element_list": [{"element_id": keeper}],
        "voice_list": [{"voice_id": "v_keeper"}],
        "external_task_id": body["external_task_id"],
    }


async def test_an_elements_images_and_tags_as_json_text_reach_kling_as_lists(
    client: Client, sandbox: SandboxServer
) -> None:
    arguments = {
        "element_name": "Keeper",
        "element_description": "the lighthouse keeper",
        "frontal_image": IMAGE_URL,
        "refer_images": '["https://images.example.com/side.png", "https://images.example.com/back.png"]',
        "tag_list": '["o_101"]',
        "timeout": 0,
    }
    result = await client.call_tool("kling_create_element", arguments)
    assert not result.is_error, text_of(result)
    [create] = sandbox.state.requests
    assert create.body is not None
    assert create.body["element_image_list"] == {
        "frontal_image": IMAGE_URL,
        "refer_images": [
            {"image_url": "https://images.example.com/side.png"},
            {"image_url": "https://images.example.com/back.png"},
        ],
    }
    assert create.body["tag_list"] == [{"tag_id": "o_101"}]


@pytest.mark.parametrize(
    ("tool", "arguments", "words"),
    [
        (TEXT, {"multi_prompt": '[{"prompt": "a", "duration": 5'}, ("multi_prompt is not valid JSON", "JSON list")),
        (TEXT, {"multi_prompt": '{"prompt": "a", "duration": 5}'}, ("multi_prompt must be a JSON list", "object")),
        (TEXT, {"voice_list": "v_keeper"}, ("voice_list must be a JSON list", '"v_keeper"')),
        (TEXT, {"element_list": "[8812]"}, ("element_list.0", "must be an object")),
        (GENERATE, {"element_list": "8812"}, ("element_list must be a JSON list", 'got the string "8812"')),
        ("kling_create_element", {"refer_images": '{"image_url": "x"}'}, ("refer_images must be a JSON list",)),
        ("kling_create_element", {"tag_list": "[o_101]"}, ("tag_list is not valid JSON",)),
    ],
)
async def test_json_text_that_is_not_the_right_list_is_refused_naming_the_field(
    client: Client, sandbox: SandboxServer, tool: str, arguments: dict[str, Any], words: tuple[str, ...]
) -> None:
    base: dict[str, Any] = {"prompt": "a lighthouse", "model": "kling-v3"}
    if tool == GENERATE:
        base["start_image_url"] = IMAGE_URL
    if tool == "kling_create_element":
        base = {
            "element_name": "Keeper",
            "element_description": "the keeper",
            "frontal_image": IMAGE_URL,
            "refer_images": [IMAGE_URL],
        }
    text = refused(await client.call_tool(tool, {**base, **arguments}), sandbox)
    for word in words:
        assert word in text, text


# --- 2. a storyboard needs no top-level prompt text (null or empty)


@pytest.mark.parametrize("tool", [TEXT, GENERATE])
@pytest.mark.parametrize(
    "prompt", [{"prompt": None}, {"prompt": " "}], ids=["null", "empty"]
)  # the schema requires the key (tool-spec.md), as strict clients always send it: null or an empty string
async def test_a_storyboard_without_a_prompt_sends_none(
    client: Client, sandbox: SandboxServer, tool: str, prompt: dict[str, Any]
) -> None:
    arguments: dict[str, Any] = {"model": "kling-v3", "multi_prompt": SHOTS, **prompt}
    if tool == GENERATE:
        arguments["start_image_url"] = IMAGE_URL
    task = task_of(await client.call_tool(tool, arguments))
    found = task_of(await client.call_tool(GET, {"task_id": task["task_id"]}))
    assert found["made_from"]["shots"] == SHOTS  # a look-up shows what the video was made from, in place of a prompt
    _, body = sent(sandbox)
    assert "prompt" not in body
    assert (body["multi_shot"], body["shot_type"], body["multi_prompt"], body["duration"]) == (
        True,
        "customize",
        SENT_SHOTS,
        "5",
    )


@pytest.mark.parametrize("tool", [TEXT, GENERATE])
@pytest.mark.parametrize(
    "arguments",
    [
        {},
        {"prompt": None},
        {"multi_prompt": []},
        {"multi_prompt": "[]"},
        {"shot_type": "intelligence"},  # Kling cuts the shots from the prompt: it needs one
    ],
)
async def test_without_shots_the_prompt_is_still_required(
    client: Client, sandbox: SandboxServer, tool: str, arguments: dict[str, Any]
) -> None:
    arguments = {"model": "kling-v3", **arguments}
    if tool == GENERATE:
        arguments["start_image_url"] = IMAGE_URL
    assert "`prompt` is required" in refused(await client.call_tool(tool, arguments), sandbox)


async def test_a_missing_prompt_is_reported_with_the_other_mistakes(client: Client, sandbox: SandboxServer) -> None:
    text = refused(await client.call_tool(TEXT, {"model": "kling-v3", "mode": "fast"}), sandbox)
    assert "`prompt` is required; `mode` must be 'std', 'pro' or '4k'" in text


class User:
    """An elicitation callback that approves and remembers the question."""

    def __init__(self) -> None:
        self.questions: list[str] = []

    async def __call__(self, context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult | ErrorData:
        del context
        self.questions.append(params.message)
        return ElicitResult(action="accept", content={"approve": True})


async def test_the_spend_question_shows_a_promptless_storyboards_first_shot(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    user = User()
    settings = make_settings(sandbox, tmp_path)
    server = build_server(settings, retry_policy=FAST_RETRY)
    async with Client(server, mode="legacy", elicitation_callback=user) as client:
        task_of(await client.call_tool(TEXT, {"model": "kling-v3", "prompt": None, "multi_prompt": SHOTS}))
    [asked] = user.questions
    assert "Prompt: (none: 2 shots; shot 1: a lighthouse at dusk)" in asked
    [entry] = journal_entries(settings)
    assert entry.prompt == ""  # the journal keeps what was sent: no prompt


# --- 3. errors name what the caller sent


async def test_shots_too_short_are_named_as_shots_not_as_a_duration(client: Client, sandbox: SandboxServer) -> None:
    shots = [{"prompt": "a", "duration": 1}, {"prompt": "b", "duration": 1}]
    text = refused(await client.call_tool(TEXT, {"prompt": "x", "model": "kling-v3", "multi_prompt": shots}), sandbox)
    assert "the shots in multi_prompt add up to 2 s; a video on kling-v3 lasts 3-15 (whole seconds)" in text
    assert "duration must" not in text


async def test_a_duration_given_is_still_named_as_the_duration(client: Client, sandbox: SandboxServer) -> None:
    text = refused(await client.call_tool(TEXT, {"prompt": "x", "model": "kling-v3", "duration": 2}), sandbox)
    assert "`duration` must be greater than or equal to 3" in text


async def test_a_voice_that_turns_audio_on_is_named_as_the_cause(client: Client, sandbox: SandboxServer) -> None:
    arguments = {"prompt": "<<<voice_1>>> hi", "model": "kling-v2-6", "voice_list": [{"voice_id": "v1"}]}
    text = refused(await client.call_tool(TEXT, arguments), sandbox)
    assert "voice_list turns audio on, and audio needs mode 'pro' on kling-v2-6; got mode 'std'" in text
    assert "generate_audio" not in text


async def test_audio_asked_for_is_still_named_as_generate_audio(client: Client, sandbox: SandboxServer) -> None:
    arguments = {"prompt": "hi", "model": "kling-v2-6", "generate_audio": True}
    text = refused(await client.call_tool(TEXT, arguments), sandbox)
    assert "generate_audio needs mode 'pro' on kling-v2-6; got mode 'std'" in text


# --- 4. aspect_ratio on image-to-video: accepted, not sent, and said plainly

NOT_SENT = "aspect_ratio is not sent for image-to-video: the video follows the start image's shape"


async def test_an_aspect_ratio_image2video_cannot_take_is_said_to_be_unsent(
    client: Client, sandbox: SandboxServer
) -> None:
    arguments = {"prompt": "x", "start_image_url": IMAGE_URL, "model": "kling-v3", "aspect_ratio": "9:16"}
    result = await client.call_tool(GENERATE, arguments)
    task_of(result)
    _, body = sent(sandbox)
    assert "aspect_ratio" not in body
    assert f"Note: {NOT_SENT}." in text_of(result)


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        (GENERATE, {"start_image_url": IMAGE_URL, "model": "kling-v3"}),  # not given: nothing to say
        (GENERATE, {"start_image_url": IMAGE_URL, "model": "kling-v3-omni", "aspect_ratio": "9:16"}),  # sent
        (TEXT, {"model": "kling-v3", "aspect_ratio": "9:16"}),
    ],
)
async def test_no_note_when_aspect_ratio_is_sent_or_not_given(
    client: Client, sandbox: SandboxServer, tool: str, arguments: dict[str, Any]
) -> None:
    result = await client.call_tool(tool, {"prompt": "x", **arguments})
    task_of(result)
    _, body = sent(sandbox)
    assert body.get("aspect_ratio") == arguments.get("aspect_ratio")
    assert "Note:" not in text_of(result)


async def test_the_spend_question_says_aspect_ratio_is_not_sent(sandbox: SandboxServer, tmp_path: Path) -> None:
    user = User()
    server = build_server(make_settings(sandbox, tmp_path), retry_policy=FAST_RETRY)
    arguments = {"prompt": "x", "start_image_url": IMAGE_URL, "model": "kling-v3", "aspect_ratio": "1:1"}
    async with Client(server, mode="legacy", elicitation_callback=user) as client:
        task_of(await client.call_tool(GENERATE, arguments))
    [asked] = user.questions
    assert f"Note: {NOT_SENT}." in asked


async def test_the_catalog_legend_says_what_an_empty_aspect_ratios_means(client: Client) -> None:
    result = await client.call_tool("kling_list_models", {"model": "kling-v3"})
    catalog = result.structured_content
    assert catalog is not None
    rows = {row["endpoint"]: row for row in catalog["models"]}
    assert rows["image2video"]["aspect_ratios"] == []
    assert "aspect_ratio given is accepted but not sent, and the result says so" in catalog["legend"]
    assert "an argument not listed is refused" not in catalog["legend"]


# --- 5. numeric ids


async def test_a_numeric_element_id_is_sent_as_its_digits(client: Client, sandbox: SandboxServer) -> None:
    keeper = made_element(sandbox)  # the sandbox's ids are digits, as Kling's are
    arguments = {"prompt": "the keeper", "model": "kling-v3", "element_list": [{"element_id": int(keeper)}]}
    task_of(await client.call_tool(TEXT, arguments))
    _, body = sent(sandbox)
    assert body["element_list"] == [{"element_id": keeper}]


async def test_a_numeric_voice_id_is_sent_as_its_digits(client: Client, sandbox: SandboxServer) -> None:
    arguments = {"prompt": "<<<voice_1>>> hi", "model": "kling-v3", "voice_list": [{"voice_id": 7301}]}
    task_of(await client.call_tool(TEXT, arguments))
    _, body = sent(sandbox)
    assert body["voice_list"] == [{"voice_id": "7301"}]


@pytest.mark.parametrize("value", [True, -3, 8.5])
async def test_an_id_that_is_not_a_whole_number_or_text_is_refused(
    client: Client, sandbox: SandboxServer, value: Any
) -> None:
    arguments = {"prompt": "x", "model": "kling-v3", "element_list": [{"element_id": value}]}
    assert "element_list.0.element_id" in refused(await client.call_tool(TEXT, arguments), sandbox)


async def test_a_storyboard_still_names_its_prompt_as_the_contract_requires(
    client: Client, sandbox: SandboxServer
) -> None:
    """tool-spec.md makes prompt a required parameter: with shots it may be null or empty, but not left out."""
    text = refused(await client.call_tool(TEXT, {"model": "kling-v3", "multi_prompt": SHOTS}), sandbox)
    assert "`prompt` is required" in text
