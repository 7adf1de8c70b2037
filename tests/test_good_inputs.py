"""Valid input reaches Kling exactly as Kling wants it: each image form, each model, the schema that describes them."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from kling_mcp.api.capabilities import IMAGE_ENDPOINTS, models_of, row_for
from kling_mcp.sandbox.runner import SandboxServer
from kling_mcp.server.build import build_server
from tests.conftest import FAST_RETRY, PROTOCOL_MODES, journal_entries, make_settings, text_of
from tests.imaging import Images, b64, build_images
from tests.names import GENERATE as TOOL

pytestmark = pytest.mark.anyio

URL = "https://images.example.com/start.png?size=large"
END = "https://images.example.com/end.png"


@pytest.fixture(params=PROTOCOL_MODES)
async def client(request: pytest.FixtureRequest, sandbox: SandboxServer, tmp_path: Path) -> AsyncIterator[Client]:
    """Like conftest's client, but returning right after the create: these tests are about what was sent."""
    settings = make_settings(sandbox, tmp_path, KLING_MCP_MAX_WAIT=0.01)
    async with Client(build_server(settings, retry_policy=FAST_RETRY), mode=request.param) as connected:
        yield connected


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Images:
    return build_images(tmp_path_factory.mktemp("good-images"))


async def created_body(client: Client, sandbox: SandboxServer, **arguments: Any) -> tuple[str, dict[str, Any]]:
    """Call the tool, expect success, and return the one create request the sandbox received."""
    result = await client.call_tool(TOOL, {"prompt": "the boat drifts", **arguments})
    assert not result.is_error, text_of(result)
    [create] = sandbox.state.creates()
    assert create.body is not None
    return create.path, create.body


IMAGE_FORMS: dict[str, tuple[Callable[[Images], str], Callable[[Images], str]]] = {
    # name: (argument as the user has it, what Kling must receive)
    "url": (lambda _: URL, lambda _: URL),
    "data-uri": (lambda i: f"data:image/png;base64,{b64(i.png)}", lambda i: b64(i.png)),
    "data-uri-jpeg-labelled-png": (lambda i: f"data:image/png;base64,{b64(i.jpeg)}", lambda i: b64(i.jpeg)),
    "bare-base64": (lambda i: b64(i.jpeg), lambda i: b64(i.jpeg)),
    "base64-with-newlines": (lambda i: base64.encodebytes(i.png).decode(), lambda i: b64(i.png)),
    "local-path": (lambda i: str(i.png_path), lambda i: b64(i.png)),
    "file-url": (lambda i: i.jpeg_path.as_uri(), lambda i: b64(i.jpeg)),
}


@pytest.mark.parametrize("form", list(IMAGE_FORMS))
async def test_each_image_form_reaches_kling_as_url_or_bare_base64(
    client: Client, sandbox: SandboxServer, images: Images, form: str
) -> None:
    given, expected = IMAGE_FORMS[form]
    _, body = await created_body(client, sandbox, start_image_url=given(images))
    assert body["image"] == expected(images)
    assert not body["image"].startswith("data:")
    assert "\n" not in body["image"]


async def test_start_and_end_frames_in_different_forms(client: Client, sandbox: SandboxServer, images: Images) -> None:
    path, body = await created_body(
        client,
        sandbox,
        model="kling-v3",
        start_image_url=str(images.png_path),
        end_image_url=f"data:image/jpeg;base64,{b64(images.jpeg)}",
    )
    assert path == "/v1/videos/image2video"
    assert (body["image"], body["image_tail"]) == (b64(images.png), b64(images.jpeg))


async def test_an_end_frame_alone_need_not_meet_the_aspect_rule(
    client: Client, sandbox: SandboxServer, images: Images
) -> None:
    _, body = await created_body(client, sandbox, model="kling-v3", end_image_url=b64(images.wide_png))
    assert "image" not in body
    assert body["image_tail"] == b64(images.wide_png)


async def test_omni_models_get_bare_base64_in_image_list(
    client: Client, sandbox: SandboxServer, images: Images
) -> None:
    path, body = await created_body(
        client,
        sandbox,
        model="kling-video-o1",
        start_image_url=f"data:image/png;base64,{b64(images.png)}",
        end_image_url=END,
        mode="pro",
        duration=10,
        aspect_ratio="9:16",
    )
    assert path == "/v1/videos/omni-video"
    assert body["image_list"] == [
        {"image_url": b64(images.png), "type": "first_frame"},
        {"image_url": END, "type": "end_frame"},
    ]
    assert (body["model_name"], body["mode"], body["duration"], body["aspect_ratio"]) == (
        "kling-video-o1",
        "pro",
        "10",
        "9:16",
    )
    assert "sound" not in body and "image" not in body


CAMERA_ARG = '{"type": "simple", "config": {"pan": -3.5}}'
CAMERA_SENT = {
    "type": "simple",
    "config": {"horizontal": 0, "vertical": 0, "pan": -3.5, "tilt": 0, "roll": 0, "zoom": 0},
}
AUDIO = ({"generate_audio": True}, {"sound": "on"})
CFG = ({"cfg_scale": 0.25}, {"cfg_scale": 0.25})
# Per model, written out by hand from docs/kling-api.md: the features it takes (pro mode, its longest duration,
# or 5 s where camera control needs it), as (extra arguments, extra fields Kling must receive).
EXPECTED: dict[str, tuple[int, dict[str, Any], dict[str, Any]]] = {
    "kling-v1": (5, {**CFG[0], "camera_control": CAMERA_ARG}, {**CFG[1], "camera_control": CAMERA_SENT}),
    "kling-v1-5": (5, {**CFG[0], "camera_control": CAMERA_ARG}, {**CFG[1], "camera_control": CAMERA_SENT}),
    "kling-v1-6": (10, {**CFG[0], "end_image_url": END}, {**CFG[1], "image_tail": END}),
    "kling-v2-master": (10, {}, {}),
    "kling-v2-1": (10, {"end_image_url": END}, {"image_tail": END}),
    "kling-v2-1-master": (10, {}, {}),
    "kling-v2-5-turbo": (10, {"end_image_url": END}, {"image_tail": END}),
    "kling-v2-6": (10, AUDIO[0], AUDIO[1]),  # audio, so no end frame (they exclude each other on v2-6)
    "kling-v3": (15, {**AUDIO[0], "end_image_url": END}, {**AUDIO[1], "image_tail": END}),
    "kling-v3-omni": (15, {**AUDIO[0], "end_image_url": END}, AUDIO[1]),
    "kling-video-o1": (10, {"end_image_url": END}, {}),
}


def expected_body(model: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Arguments that use what the model supports, and the fields Kling must then receive."""
    duration, extra_args, extra_fields = EXPECTED[model]
    args: dict[str, Any] = {"model": model, "mode": "pro", "duration": duration, "aspect_ratio": "1:1", **extra_args}
    fields: dict[str, Any] = {"model_name": model, "mode": "pro", "duration": str(duration), **extra_fields}
    return args, fields


def test_every_model_of_the_image_tool_has_an_expected_body() -> None:
    assert set(EXPECTED) == set(models_of(IMAGE_ENDPOINTS))


@pytest.mark.parametrize("model", models_of(IMAGE_ENDPOINTS))
async def test_every_model_gets_its_endpoint_and_body(client: Client, sandbox: SandboxServer, model: str) -> None:
    args, fields = expected_body(model)
    path, body = await created_body(client, sandbox, start_image_url=URL, **args)
    omni = row_for(model, IMAGE_ENDPOINTS).endpoint == "omni-video"
    assert path == ("/v1/videos/omni-video" if omni else "/v1/videos/image2video")
    for key, value in fields.items():
        assert body[key] == value, key
    assert "model" not in body, "the legacy field `model` makes Kling fall back to kling-v1"
    assert body["external_task_id"].startswith("kmcp-")
    if omni:
        assert body["aspect_ratio"] == "1:1"
        assert body["image_list"][0] == {"image_url": URL, "type": "first_frame"}
        assert [i["type"] for i in body["image_list"]] == ["first_frame", "end_frame"]
    else:
        assert "aspect_ratio" not in body, "image2video has no aspect_ratio: the video follows the image"
        assert body["image"] == URL
        assert ("image_tail" in body) == ("end_image_url" in args)


async def test_camera_control_as_an_object_and_presets_without_config(client: Client, sandbox: SandboxServer) -> None:
    _, body = await created_body(
        client,
        sandbox,
        model="kling-v1-5",
        mode="pro",
        start_image_url=URL,
        camera_control={"type": "down_back", "config": {"zoom": 0}},
    )
    assert body["camera_control"] == {"type": "down_back"}


async def test_blank_optional_strings_count_as_not_given(client: Client, sandbox: SandboxServer) -> None:
    _, body = await created_body(
        client, sandbox, start_image_url=URL, end_image_url="", negative_prompt=" ", callback_url="", camera_control=""
    )
    assert not {"image_tail", "negative_prompt", "callback_url", "camera_control"} & set(body)


async def test_generate_audio_false_is_sent_only_to_models_with_audio(client: Client, sandbox: SandboxServer) -> None:
    _, body = await created_body(client, sandbox, start_image_url=URL, generate_audio=False)
    assert "sound" not in body
    sandbox.state.reset()
    _, body = await created_body(client, sandbox, start_image_url=URL, model="kling-v3", generate_audio=False)
    assert body["sound"] == "off"


async def test_numbers_and_booleans_sent_as_strings_are_read_as_such(client: Client, sandbox: SandboxServer) -> None:
    """Claude Code and Claude Desktop send every argument as a string ("10", "true"): exactly that text is read."""
    _, body = await created_body(
        client, sandbox, start_image_url=URL, model="kling-v1", duration="10", cfg_scale="0.25", timeout="0"
    )
    assert (body["duration"], body["cfg_scale"]) == ("10", 0.25)
    sandbox.state.reset()
    _, body = await created_body(client, sandbox, start_image_url=URL, model="kling-v3", generate_audio="true")
    assert body["sound"] == "on"


async def test_text_with_joiners_marks_and_line_breaks_is_sent_unchanged(
    client: Client, sandbox: SandboxServer
) -> None:
    prompt = "a family 👨\u200d👩\u200d👧 waves;\n\tمی\u200cخواهم \u200fשלום\u200e and a 🚣"
    _, body = await created_body(client, sandbox, start_image_url=URL, prompt=prompt)
    assert body["prompt"] == prompt


async def test_a_url_of_the_longest_length_taken_is_sent(client: Client, sandbox: SandboxServer) -> None:
    long_url = "https://images.example.com/start.png?sig=" + "s" * (8192 - 41)
    hook = "https://hooks.example.com/k?t=" + "t" * (8192 - 30)
    assert len(long_url) == len(hook) == 8192
    _, body = await created_body(client, sandbox, start_image_url=long_url, callback_url=hook)
    assert (body["image"], body["callback_url"]) == (long_url, hook)


async def test_the_intent_row_keeps_a_descriptor_of_an_inline_image_not_its_bytes(
    client: Client, sandbox: SandboxServer, images: Images, tmp_path: Path
) -> None:
    await created_body(client, sandbox, start_image_url=b64(images.png), model="kling-v3", end_image_url=END)
    [entry] = journal_entries(make_settings(sandbox, tmp_path))
    assert entry.start_image is not None and entry.start_image.startswith("<base64 png, ")
    assert len(entry.start_image) < 120 and b64(images.png)[:40] not in entry.start_image
    assert entry.end_image == END
