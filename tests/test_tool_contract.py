"""The tool's contract as the spec gives it: names, schema, mapping onto Kling's body, structured output."""

from __future__ import annotations

import dataclasses
from typing import Any

import httpx
import pytest
from mcp import Client

from kling_mcp.api.capabilities import ENDPOINTS
from kling_mcp.sandbox.runner import SandboxServer
from kling_mcp.server.tools import BY_NAME, creator_of
from tests.conftest import text_of
from tests.names import GENERATE, LIST, MOTION, TEXT, TOOLS

pytestmark = pytest.mark.anyio

SPEC_PARAMETERS = {
    "prompt",
    "start_image_url",
    "end_image_url",
    "model",
    "mode",
    "aspect_ratio",
    "duration",
    "generate_audio",
    "negative_prompt",
    "cfg_scale",
    "camera_control",
    "timeout",
    "callback_url",
}
# Kling 3.0 (issue 23): storyboards, elements and voices, after the spec's 13.
KLING3_PARAMETERS = {"multi_prompt", "shot_type", "element_list", "voice_list"}
IMAGE_URL = "https://images.example.com/start.png"
END_URL = "https://images.example.com/end.png"


async def test_generate_tool_has_the_13_spec_parameters_at_top_level(client: Client) -> None:
    tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert set(tools) == TOOLS
    tool = tools["kling_generate_video_from_image"]
    schema = tool.input_schema
    assert set(schema["properties"]) == SPEC_PARAMETERS | KLING3_PARAMETERS
    # tool-spec.md requires prompt; with multi_prompt (a storyboard, which it predates) it may be null or empty
    assert schema["required"] == ["prompt"] and "multi_prompt" in schema["properties"]["prompt"]["description"]
    assert schema["properties"]["model"]["default"] == "kling-v2-master"
    assert schema["properties"]["mode"]["enum"] == ["std", "pro", "4k"]  # the spec's two, and Kling 3.0's 4k (issue 23)
    assert schema["properties"]["mode"]["default"] == "std"
    assert schema["properties"]["aspect_ratio"]["default"] == "16:9"
    assert "kling-v3" in schema["properties"]["model"]["enum"]
    for name, prop in schema["properties"].items():
        assert prop.get("description"), f"{name} has no description"
    assert tool.output_schema is not None
    assert tool.output_schema["required"] == ["result"]
    assert tool.annotations is not None
    assert tool.annotations.read_only_hint is False
    assert tool.annotations.idempotent_hint is False
    assert tool.annotations.open_world_hint is True
    assert "bill" in (tool.description or "") or "paid" in (tool.description or "")


async def test_every_seed_parameter_reaches_kling_as_its_contract_says(client: Client, sandbox: SandboxServer) -> None:
    result = await client.call_tool(
        "kling_generate_video_from_image",
        {
            "prompt": "a paper boat drifts on a pond",
            "start_image_url": IMAGE_URL,
            "model": "kling-v1",
            "mode": "pro",
            "aspect_ratio": "9:16",
            "duration": 5,
            "negative_prompt": "blur, text",
            "cfg_scale": 0.7,
            "camera_control": '{"type": "simple", "config": {"zoom": 4}}',
            "timeout": 30,
            "callback_url": "https://hooks.example.com/kling",
        },
    )
    assert not result.is_error, text_of(result)
    [create] = sandbox.state.creates()
    assert create.path == "/v1/videos/image2video"
    body = create.body
    assert body is not None
    assert body["model_name"] == "kling-v1"
    assert "model" not in body, "the legacy field `model` makes Kling fall back to kling-v1"
    assert body["image"] == IMAGE_URL
    assert "image_tail" not in body
    assert body["prompt"] == "a paper boat drifts on a pond"
    assert body["negative_prompt"] == "blur, text"
    assert body["mode"] == "pro"
    assert body["duration"] == "5"
    assert body["cfg_scale"] == 0.7
    assert body["camera_control"] == {
        "type": "simple",
        "config": {"horizontal": 0, "vertical": 0, "pan": 0, "tilt": 0, "roll": 0, "zoom": 4},
    }
    assert body["callback_url"] == "https://hooks.example.com/kling"
    assert body["external_task_id"].startswith("kmcp-")
    assert "aspect_ratio" not in body, "image2video has no aspect_ratio: the video follows the image"
    assert "sound" not in body
    assert "timeout" not in body
    assert create.authorization is not None and create.authorization.startswith("Bearer ")


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (
            {"model": "kling-v2-6", "mode": "pro", "end_image_url": END_URL, "generate_audio": False, "duration": 10},
            {"model_name": "kling-v2-6", "image_tail": END_URL, "sound": "off", "duration": "10", "mode": "pro"},
        ),
        (
            {"model": "kling-v3", "duration": 7, "generate_audio": True, "end_image_url": END_URL},
            {"model_name": "kling-v3", "sound": "on", "duration": "7", "image_tail": END_URL, "mode": "std"},
        ),
        ({}, {"model_name": "kling-v2-master", "mode": "std", "duration": "5"}),
    ],
)
async def test_mapping_of_model_audio_end_frame_and_duration(
    client: Client, sandbox: SandboxServer, arguments: dict[str, object], expected: dict[str, object]
) -> None:
    result = await client.call_tool(
        "kling_generate_video_from_image", {"prompt": "waves", "start_image_url": IMAGE_URL, **arguments}
    )
    assert not result.is_error, text_of(result)
    [create] = sandbox.state.creates()
    assert create.body is not None
    for key, value in expected.items():
        assert create.body[key] == value, key


async def test_omni_model_goes_to_the_omni_endpoint_with_image_list(client: Client, sandbox: SandboxServer) -> None:
    result = await client.call_tool(
        "kling_generate_video_from_image",
        {
            "prompt": "morph",
            "start_image_url": IMAGE_URL,
            "end_image_url": END_URL,
            "model": "kling-v3-omni",
            "aspect_ratio": "1:1",
            "duration": 12,
            "generate_audio": True,
        },
    )
    assert not result.is_error, text_of(result)
    [create] = sandbox.state.creates()
    assert create.path == "/v1/videos/omni-video"
    assert create.body is not None
    assert create.body["image_list"] == [
        {"image_url": IMAGE_URL, "type": "first_frame"},
        {"image_url": END_URL, "type": "end_frame"},
    ]
    assert create.body["aspect_ratio"] == "1:1"
    assert create.body["duration"] == "12"
    assert create.body["sound"] == "on"
    assert result.structured_content is not None
    assert result.structured_content["result"]["status"] == "succeed"


async def test_result_is_structured_and_the_video_is_a_real_mp4(client: Client, sandbox: SandboxServer) -> None:
    result = await client.call_tool(
        "kling_generate_video_from_image", {"prompt": "clouds", "start_image_url": IMAGE_URL}
    )
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    task = result.structured_content["result"]
    assert task["status"] == "succeed"
    assert task["done"] is True
    assert task["model"] == "kling-v2-master"
    assert task["task_id"] in sandbox.state.tasks
    assert task["external_task_id"].startswith("kmcp-")
    assert task["created_at"].endswith("Z") and task["updated_at"].endswith("Z")
    [video] = task["videos"]
    assert video["duration"] == 5.0
    assert video["url"] in text_of(result)
    assert "30 days" in text_of(result)
    async with httpx.AsyncClient() as http:
        mp4 = (await http.get(video["url"])).content
    assert mp4[4:8] == b"ftyp" and len(mp4) > 5000


async def test_failed_task_is_a_tool_error_carrying_kling_reason(client: Client, sandbox: SandboxServer) -> None:
    sandbox.state.inject(fail_tasks=1, fail_message="Image contains prohibited content")
    result = await client.call_tool(
        "kling_generate_video_from_image", {"prompt": "clouds", "start_image_url": IMAGE_URL}
    )
    assert result.is_error
    assert "Image contains prohibited content" in text_of(result)
    assert len(sandbox.state.tasks) == 1
    [task_id] = sandbox.state.tasks
    assert task_id in text_of(result)


async def test_progress_is_reported_while_waiting(client: Client, sandbox: SandboxServer) -> None:
    sandbox.state.config.run_seconds = 0.3
    messages: list[str] = []
    totals: list[float | None] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        assert total is None or progress <= total
        totals.append(total)
        messages.append(message or "")

    result = await client.call_tool(
        "kling_generate_video_from_image",
        {"prompt": "clouds", "start_image_url": IMAGE_URL},
        progress_callback=on_progress,
    )
    assert not result.is_error, text_of(result)
    assert len(messages) >= 2
    assert any("elapsed" in m for m in messages)
    assert messages[-1].startswith("succeed")


async def test_misspelt_argument_is_refused_not_ignored(client: Client, sandbox: SandboxServer) -> None:
    """`duraton: 10` silently dropped would bill a 5 s video the caller did not ask for."""
    result = await client.call_tool(
        "kling_generate_video_from_image", {"prompt": "x", "start_image_url": IMAGE_URL, "duraton": 10}
    )
    assert result.is_error
    assert "Invalid input: `duraton` is not a parameter of this tool (it takes: prompt, start_image_url," in text_of(
        result
    )
    assert sandbox.state.requests == []
    for tool in (await client.list_tools()).tools:
        assert tool.input_schema.get("additionalProperties") is False, tool.name


async def test_timeout_zero_answers_right_after_the_create(client: Client, sandbox: SandboxServer) -> None:
    result = await client.call_tool(
        "kling_generate_video_from_image", {"prompt": "clouds", "start_image_url": IMAGE_URL, "timeout": 0}
    )
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    assert result.structured_content["result"]["status"] == "submitted"
    assert [r.method for r in sandbox.state.requests] == ["POST"], "no query: the call did not wait"


async def test_cfg_scale_on_v3_is_for_kling_to_judge(client: Client, sandbox: SandboxServer) -> None:
    """The table does not know (Kling documents it as unsupported on v2.x only): sent, and a refusal explained."""
    result = await client.call_tool(
        "kling_generate_video_from_image",
        {"prompt": "clouds", "start_image_url": IMAGE_URL, "model": "kling-v3", "cfg_scale": 0.5},
    )
    [create] = sandbox.state.creates()
    assert create.body is not None and create.body["cfg_scale"] == 0.5
    assert result.is_error
    text = text_of(result)
    assert "Kling error 1201" in text and "cfg_scale is not supported by kling-v3" in text
    assert "cfg_scale on kling-v3 was sent for Kling to judge" in text
    assert "use a model documented to take it: kling-v1, kling-v1-5, kling-v1-6." in text


async def test_progress_runs_towards_the_usual_duration_not_the_cap(client: Client, sandbox: SandboxServer) -> None:
    """The total is how long such a task usually takes (learnt from the journal); unknown without history."""
    sandbox.state.config.run_seconds = 0.2
    calls: list[list[tuple[float, float | None]]] = []
    for _ in range(2):
        updates: list[tuple[float, float | None]] = []
        calls.append(updates)

        async def on_progress(progress: float, total: float | None, message: str | None) -> None:  # noqa: ARG001
            calls[-1].append((progress, total))

        result = await client.call_tool(
            "kling_generate_video_from_image",
            {"prompt": "clouds", "start_image_url": IMAGE_URL},
            progress_callback=on_progress,
        )
        assert not result.is_error, text_of(result)
    first, second = calls
    # No task of this profile has finished before: no total while waiting; at the end, all of it is done.
    assert len(first) >= 2 and all(total is None for _, total in first[:-1]), first
    assert first[-1][0] == first[-1][1]
    # The second call knows the first one took ~0.25 s. The server's wait cap (20 s here) is no total at all.
    totals = [total for _, total in second[:-1] if total is not None]
    assert totals, second
    assert all(0.1 <= total <= 2.0 for total in totals), second
    assert second[-1][0] == second[-1][1]
    assert [p for p, _ in second] == sorted(p for p, _ in second), "progress only grows"


# --- Wording a newcomer reads (issue 24, item 4) ------------------------------------------------------------------


async def test_descriptions_promise_only_what_the_tools_do(client: Client) -> None:
    listed = {tool.name: tool for tool in (await client.list_tools()).tools}
    image = listed["kling_generate_video_from_image"]
    description = image.description or ""
    assert "durations, and aspect ratios" not in description
    assert "keeps the image's aspect ratio" in description
    timeout = image.input_schema["properties"]["timeout"]["description"]
    assert "Default is 300" not in timeout
    assert "waits at most its own cap per call (default 50 s)" in timeout


async def test_a_refused_create_cites_no_status_message_it_does_not_carry(
    client: Client, sandbox: SandboxServer
) -> None:
    sandbox.state.inject(create_error=1, create_error_code=1102)  # resource pack used up: provably nothing created
    result = await client.call_tool("kling_generate_video_from_image", {"prompt": "x", "start_image_url": IMAGE_URL})
    assert result.is_error
    text = text_of(result)
    assert "1102" in text and "nothing was billed" in text
    assert "status_message" not in text, text


async def test_the_list_text_is_a_short_summary_and_list_and_get_agree_on_status_message(client: Client) -> None:
    import json

    for i in range(20):
        made = await client.call_tool(
            "kling_generate_video_from_image", {"prompt": f"kite {i}", "start_image_url": IMAGE_URL, "timeout": 0}
        )
        assert not made.is_error, text_of(made)
    listed = await client.call_tool("kling_list_video_tasks", {"limit": 20})
    assert listed.structured_content is not None
    tasks = listed.structured_content["result"]
    assert len(tasks) == 20
    text = text_of(listed)
    structured = json.dumps(listed.structured_content)
    assert not text.lstrip().startswith("{"), "the text repeats the structured content as JSON"
    assert text.startswith("20 task(s) in this server's task journal, newest first")
    assert len(text.splitlines()) == 21 and all(task["task_id"] in text for task in tasks)
    assert len(text) < len(structured) / 3, (len(text), len(structured))
    got = await client.call_tool("kling_get_video_task", {"task_id": tasks[0]["task_id"]})
    assert got.structured_content is not None
    assert tasks[0]["status_message"] == got.structured_content["result"]["status_message"] is None


def test_each_kling_endpoint_is_created_by_the_one_tool_its_declaration_names() -> None:
    # Next steps ("do not call ... again") name this tool for the endpoint's tasks.
    assert {endpoint: creator_of(endpoint) for endpoint in ENDPOINTS} == {
        "image2video": GENERATE,
        "omni-video": GENERATE,
        "text2video": TEXT,
        "motion-control": MOTION,
    }


@pytest.mark.parametrize(
    ("field", "reference", "problem"),
    [
        ("arguments", "kling_mcp.server.handlers:list_tasks", "is not a pydantic model"),
        ("output", "kling_mcp.server.arguments:WATCH_WAIT_SECONDS", "is not a pydantic model"),
        ("handler", "kling_mcp.server.arguments:WATCH_WAIT_SECONDS", "is not callable"),
    ],
)
def test_a_declaration_naming_the_wrong_thing_is_refused_on_first_use(field: str, reference: str, problem: str) -> None:
    changes: dict[str, Any] = {field: reference}
    wrong = dataclasses.replace(BY_NAME[LIST], **changes)
    with pytest.raises(TypeError, match=problem):
        wrong.binding()
