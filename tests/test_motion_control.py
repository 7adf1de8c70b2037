"""kling_generate_video_from_motion: Kling's motion-control endpoint through the same create, journal, wait and
lookup paths as the other generate tools, with the body Kling receives asserted field by field."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from kling_mcp.config import Settings
from kling_mcp.sandbox.runner import SandboxServer
from kling_mcp.server.build import build_server
from tests.conftest import EXAMPLE_PNG, FAST_RETRY, journal_entry, make_settings, text_of
from tests.names import GENERATE, GET, MOTION
from tests.tasks_support import legacy_request

pytestmark = pytest.mark.anyio

IMAGE = "https://images.example.com/dancer.png"
PARAMETERS = {
    "image_url",
    "video_url",
    "character_orientation",
    "prompt",
    "keep_original_sound",
    "model",
    "mode",
    "timeout",
    "callback_url",
}


def reference(sandbox: SandboxServer, seconds: int) -> str:
    """A reference video the sandbox knows to be `seconds` long (docs/kling-api.md)."""
    return f"{sandbox.url}/sandbox/reference/{seconds}s.mp4"


def task_of(result: Any) -> dict[str, Any]:
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    task: dict[str, Any] = result.structured_content["result"]
    return task


async def test_schema_names_klings_fields_and_models(client: Client) -> None:
    [tool] = [t for t in (await client.list_tools()).tools if t.name == MOTION]
    properties = tool.input_schema["properties"]
    assert set(properties) == PARAMETERS
    assert sorted(tool.input_schema["required"]) == ["character_orientation", "image_url", "video_url"]
    assert properties["model"]["enum"] == ["kling-v2-6", "kling-v3"]
    assert properties["model"]["default"] == "kling-v2-6"
    assert properties["character_orientation"]["enum"] == ["image", "video"]
    assert tool.annotations is not None and tool.annotations.idempotent_hint is False
    assert "paid Kling task" in (tool.description or "")


async def test_every_parameter_reaches_motion_control_as_kling_names_it(client: Client, sandbox: SandboxServer) -> None:
    video = reference(sandbox, 7)
    task = task_of(
        await client.call_tool(
            MOTION,
            {
                "image_url": IMAGE,
                "video_url": video,
                "character_orientation": "image",
                "prompt": "on a rooftop at dusk",
                "keep_original_sound": False,
                "model": "kling-v3",
                "mode": "pro",
                "timeout": 30,
                "callback_url": "https://hooks.example.com/kling",
            },
        )
    )
    assert task["status"] == "succeed" and task["videos"][0]["url"].endswith(".mp4")
    [create] = sandbox.state.creates()
    assert create.path == "/v1/videos/motion-control"
    assert create.body == {
        "model_name": "kling-v3",
        "image_url": IMAGE,
        "video_url": video,
        "character_orientation": "image",
        "keep_original_sound": "no",
        "mode": "pro",
        "prompt": "on a rooftop at dusk",
        "callback_url": "https://hooks.example.com/kling",
        "external_task_id": task["external_task_id"],
    }
    # The video is as long as the reference: that is what Kling bills (the sandbox's price table, 4 units / 5 s pro).
    [sandbox_task] = sandbox.state.tasks.values()
    assert sandbox_task.duration == "7"
    assert {r.path.rsplit("/", 1)[0] for r in sandbox.state.requests if r.method == "GET"} <= {
        "/v1/videos/motion-control",
        "/v1/videos",
    }


async def test_the_least_a_call_needs_sends_the_default_model_and_mode(client: Client, sandbox: SandboxServer) -> None:
    video = reference(sandbox, 20)
    task_of(
        await client.call_tool(
            MOTION, {"image_url": IMAGE, "video_url": video, "character_orientation": "video", "timeout": 0}
        )
    )
    [create] = sandbox.state.creates()
    assert create.body is not None
    assert {k: v for k, v in create.body.items() if k != "external_task_id"} == {
        "model_name": "kling-v2-6",
        "image_url": IMAGE,
        "video_url": video,
        "character_orientation": "video",
        "mode": "std",
    }


async def test_a_local_image_is_sent_as_bare_base64(client: Client, sandbox: SandboxServer) -> None:
    task_of(
        await client.call_tool(
            MOTION,
            {
                "image_url": str(EXAMPLE_PNG),
                "video_url": reference(sandbox, 5),
                "character_orientation": "image",
                "keep_original_sound": "yes",
                "timeout": 0,
            },
        )
    )
    [create] = sandbox.state.creates()
    assert create.body is not None
    assert base64.b64decode(create.body["image_url"]) == EXAMPLE_PNG.read_bytes()
    assert create.body["keep_original_sound"] == "yes"


async def test_a_reference_too_long_for_the_orientation_is_klings_refusal_with_the_ids(
    client: Client, sandbox: SandboxServer
) -> None:
    """Only Kling fetches the video, so only Kling knows its length: its refusal (nothing created) is reported."""
    result = await client.call_tool(
        MOTION, {"image_url": IMAGE, "video_url": reference(sandbox, 12), "character_orientation": "image"}
    )
    text = text_of(result)
    assert result.is_error and "video_url" in text and "10s" in text, text
    assert "external_task_id" in text and sandbox.state.tasks == {}


async def test_the_task_is_journaled_and_found_again_at_motion_control(
    server_factory: Callable[..., Any], sandbox: SandboxServer, tmp_path: Path
) -> None:
    async with Client(server_factory(KLING_MCP_MAX_WAIT=0.01)) as client:
        created = task_of(
            await client.call_tool(
                MOTION, {"image_url": IMAGE, "video_url": reference(sandbox, 4), "character_orientation": "image"}
            )
        )
        assert created["status"] == "submitted"
        again = task_of(await client.call_tool(GET, {"task_id": created["task_id"], "wait_seconds": 0}))
    assert again["task_id"] == created["task_id"]
    gets = [r.path for r in sandbox.state.requests if r.method == "GET"]
    assert gets and all(p.startswith("/v1/videos/motion-control") for p in gets), gets
    entry = journal_entry(make_settings(sandbox, tmp_path), created["task_id"])
    assert entry is not None and entry.endpoint == "motion-control" and entry.model == "kling-v2-6"
    assert entry.start_image == IMAGE and entry.duration is None and entry.prompt == ""


async def test_as_an_mcp_task_it_creates_once_and_ends_with_the_normal_result(
    settings: Settings, sandbox: SandboxServer
) -> None:
    arguments = {"image_url": IMAGE, "video_url": reference(sandbox, 5), "character_orientation": "image"}
    async with Client(build_server(settings, retry_policy=FAST_RETRY), mode="legacy") as client:
        created = await legacy_request(client, "tools/call", {"name": MOTION, "arguments": arguments, "task": {}})
        handle = created["task"]["taskId"]
        result = await legacy_request(client, "tasks/result", {"taskId": handle})
        normal = await client.call_tool(GET, {"task_id": handle})
    assert handle.startswith("kmcp-") and result["isError"] is False
    assert result["structuredContent"] == normal.structured_content
    assert result["structuredContent"]["result"]["status"] == "succeed"
    [create] = sandbox.state.creates()
    assert create.path == "/v1/videos/motion-control" and create.body is not None
    assert create.body["external_task_id"] == handle


async def test_a_refused_create_names_the_motion_tool_in_its_next_step(
    settings: Settings, sandbox: SandboxServer
) -> None:
    sandbox.state.inject(create_error=1, create_error_code=1201)  # Kling refuses: no task, calling again is safe
    arguments = {"image_url": IMAGE, "video_url": reference(sandbox, 5), "character_orientation": "video"}
    async with Client(build_server(settings, retry_policy=FAST_RETRY), mode="legacy") as client:
        with pytest.raises(MCPError) as refused:
            await legacy_request(client, "tools/call", {"name": MOTION, "arguments": arguments, "task": {}})
    assert f"calling {MOTION} again is safe" in refused.value.message, refused.value.message
    assert GENERATE not in refused.value.message
