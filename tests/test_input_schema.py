"""The published input schema carries the rules, and KLING_MCP_SKIP_CAPABILITY_CHECK lifts only the table."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from mcp import Client
from pydantic import ValidationError

from kling_mcp.api.capabilities import ASPECT_RATIOS, CAMERA_TYPES, IMAGE_ENDPOINTS, models_of
from kling_mcp.sandbox.runner import SandboxServer
from kling_mcp.service.prepare.image_request import VideoRequest
from tests.conftest import text_of
from tests.imaging import b64, image_bytes
from tests.names import GENERATE as TOOL

pytestmark = pytest.mark.anyio

URL = "https://images.example.com/start.png"


def branch(prop: dict[str, Any], kind: str) -> dict[str, Any]:
    """The `kind` branch of an optional property's anyOf (or the property itself)."""
    for option in prop.get("anyOf", [prop]):
        if option.get("type") == kind:
            return dict(option)
    raise AssertionError(f"no {kind} branch in {prop}")


async def test_schema_carries_enums_ranges_and_defaults(client: Client) -> None:
    [tool] = [t for t in (await client.list_tools()).tools if t.name == TOOL]
    props = tool.input_schema["properties"]
    assert tool.input_schema["required"] == ["prompt"]  # as tool-spec.md: null or empty only with multi_prompt
    assert (props["model"]["enum"], props["model"]["default"]) == (list(models_of(IMAGE_ENDPOINTS)), "kling-v2-master")
    assert (props["mode"]["enum"], props["mode"]["default"]) == (["std", "pro", "4k"], "std")
    assert (props["aspect_ratio"]["enum"], props["aspect_ratio"]["default"]) == (list(ASPECT_RATIOS), "16:9")
    assert branch(props["duration"], "integer") == {"type": "integer", "minimum": 3, "maximum": 15}
    assert branch(props["cfg_scale"], "number") == {"type": "number", "minimum": 0, "maximum": 1}
    assert branch(props["timeout"], "number") == {"type": "number", "minimum": 0, "maximum": 3600}
    assert branch(props["prompt"], "string") == {"type": "string", "minLength": 1, "maxLength": 2500}
    assert branch(props["negative_prompt"], "string")["maxLength"] == 2500
    assert branch(props["generate_audio"], "boolean") == {"type": "boolean"}
    for name in ("start_image_url", "end_image_url", "camera_control", "callback_url", "duration", "timeout"):
        assert "default" not in props[name], name  # optional: null
    camera = branch(props["camera_control"], "object")
    assert camera["properties"]["type"]["enum"] == list(CAMERA_TYPES)
    axes = branch(camera["properties"]["config"], "object")["properties"]
    assert {(a["minimum"], a["maximum"]) for a in axes.values()} == {(-10, 10)}
    assert {"type": "string"} in props["camera_control"]["anyOf"], "the spec's JSON-string form stays accepted"
    # What the schema cannot say, the descriptions do.
    text = props["start_image_url"]["description"]
    assert all(word in text for word in ("data:image/png;base64", "file://", "10 MB", "300 px", "1:2.5"))
    assert "start_image_url" in props["end_image_url"]["description"]  # the same forms, said once
    assert "5 or 10" in props["duration"]["description"]


@pytest.fixture
async def skipping(server_factory: Callable[..., Any]) -> AsyncIterator[Client]:
    async with Client(server_factory(KLING_MCP_SKIP_CAPABILITY_CHECK=True, KLING_MCP_MAX_WAIT=0.01)) as client:
        yield client


@pytest.mark.parametrize(
    ("arguments", "sent", "kling_says"),
    [
        ({"duration": 7}, {"duration": "7"}, "duration 7 is not supported by kling-v2-master"),
        ({"end_image_url": URL}, {"image_tail": URL}, "is not supported with image_tail"),
        ({"generate_audio": True}, {"sound": "on"}, "not supported with sound"),
        ({"cfg_scale": 0.4}, {"cfg_scale": 0.4}, "cfg_scale is not supported by kling-v2-master"),
        (
            {"model": "kling-v1-5", "camera_control": '{"type": "simple", "config": {"roll": 2}}'},
            {
                "camera_control": {
                    "type": "simple",
                    "config": {"roll": 2, "horizontal": 0, "vertical": 0, "pan": 0, "tilt": 0, "zoom": 0},
                }
            },
            "is not supported with camera_control",
        ),
    ],
)
async def test_skipping_the_table_sends_the_combination_and_kling_judges_it(
    skipping: Client, sandbox: SandboxServer, arguments: dict[str, Any], sent: dict[str, Any], kling_says: str
) -> None:
    result = await skipping.call_tool(TOOL, {"prompt": "waves", "start_image_url": URL, **arguments})
    [create] = sandbox.state.creates()
    assert create.body is not None
    for key, value in sent.items():
        assert create.body[key] == value
    assert result.is_error
    assert kling_says in text_of(result) and "1201" in text_of(result)


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        ({"duration": 20}, ("duration", "less than or equal to 15")),
        ({"cfg_scale": 1.5}, ("cfg_scale", "less than or equal to 1")),
        ({"camera_control": "{zoom"}, ("camera_control", "not valid JSON")),
        ({"mode": "turbo"}, ("mode", "'std', 'pro' or '4k'")),
        ({"start_image_url": b64(image_bytes(120, 400))}, ("start_image_url", "at least 300 px")),
        ({"start_image_url": None}, ("at least one of start_image_url",)),
        ({"callback_url": "mailto:me@example.com"}, ("callback_url", "http(s)")),
        ({"model": "kling-v3-omni", "cfg_scale": 0.5}, ("cfg_scale", "omni-video endpoint")),
        ({"model": "kling-video-o1", "camera_control": '{"type": "forward_up"}'}, ("camera_control", "omni-video")),
    ],
)
async def test_skipping_the_table_keeps_every_other_check(
    skipping: Client, sandbox: SandboxServer, arguments: dict[str, Any], words: tuple[str, ...]
) -> None:
    result = await skipping.call_tool(TOOL, {"prompt": "waves", "start_image_url": URL, **arguments})
    assert result.is_error
    for word in words:
        assert word in text_of(result)
    assert sandbox.state.requests == []


@pytest.mark.parametrize("name", ["cfg_scale", "timeout"])
@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_numbers_must_be_finite(name: str, value: float) -> None:
    """JSON clients cannot send NaN (it arrives as null), but Python callers of the service can."""
    with pytest.raises(ValidationError, match=name):
        VideoRequest.model_validate({"prompt": "waves", "start_image_url": URL, "model": "kling-v1", name: value})
