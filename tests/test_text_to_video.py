"""kling_generate_video_from_text: the same guarantees as the image tool, at Kling's text2video endpoint."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from kling_mcp.sandbox.runner import SandboxServer
from tests.conftest import journal_entry, journal_file, make_settings, text_of
from tests.names import GET, TEXT

pytestmark = pytest.mark.anyio

PARAMETERS = {
    "prompt",
    "negative_prompt",
    "model",
    "mode",
    "aspect_ratio",
    "duration",
    "generate_audio",
    "cfg_scale",
    "camera_control",
    "multi_prompt",
    "shot_type",
    "element_list",
    "voice_list",
    "timeout",
    "callback_url",
}


def task_of(result: Any) -> dict[str, Any]:
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    task: dict[str, Any] = result.structured_content["result"]
    return task


async def test_schema_has_the_image_tools_names_without_images(client: Client) -> None:
    [tool] = [t for t in (await client.list_tools()).tools if t.name == TEXT]
    properties = tool.input_schema["properties"]
    assert set(properties) == PARAMETERS
    assert tool.input_schema["required"] == ["prompt"]  # as tool-spec.md: null or empty only with multi_prompt
    assert properties["aspect_ratio"]["enum"] == ["16:9", "9:16", "1:1"]
    assert properties["model"]["enum"] == [
        "kling-v1",
        "kling-v1-6",
        "kling-v2-master",
        "kling-v2-1-master",
        "kling-v2-5-turbo",
        "kling-v2-6",
        "kling-v3",
    ]
    assert tool.annotations is not None and tool.annotations.idempotent_hint is False
    assert "paid Kling task" in (tool.description or "")


async def test_every_parameter_reaches_text2video_as_kling_names_it(client: Client, sandbox: SandboxServer) -> None:
    task = task_of(
        await client.call_tool(
            TEXT,
            {
                "prompt": "a paper lantern rises over a dark lake",
                "negative_prompt": "blur",
                "model": "kling-v1",
                "mode": "pro",
                "aspect_ratio": "9:16",
                "duration": 5,
                "cfg_scale": 0.7,
                "camera_control": '{"type": "simple", "config": {"zoom": 4}}',
                "timeout": 30,
                "callback_url": "https://hooks.example.com/kling",
            },
        )
    )
    assert task["status"] == "succeed" and task["videos"][0]["url"].endswith(".mp4")
    [create] = sandbox.state.creates()
    assert create.path == "/v1/videos/text2video"
    assert create.body == {
        "model_name": "kling-v1",
        "prompt": "a paper lantern rises over a dark lake",
        "negative_prompt": "blur",
        "cfg_scale": 0.7,
        "mode": "pro",
        "aspect_ratio": "9:16",
        "duration": "5",
        "camera_control": {
            "type": "simple",
            "config": {"horizontal": 0, "vertical": 0, "pan": 0, "tilt": 0, "roll": 0, "zoom": 4},
        },
        "callback_url": "https://hooks.example.com/kling",
        "external_task_id": task["external_task_id"],
    }
    assert {r.path.rsplit("/", 1)[0] for r in sandbox.state.requests if r.method == "GET"} <= {
        "/v1/videos/text2video",
        "/v1/videos",
    }


async def test_audio_on_v3_is_sent_as_sound(client: Client, sandbox: SandboxServer) -> None:
    task_of(await client.call_tool(TEXT, {"prompt": "rain on a tin roof", "model": "kling-v3", "generate_audio": True}))
    [create] = sandbox.state.creates()
    assert create.body is not None and create.body["sound"] == "on" and create.body["duration"] == "5"


async def test_the_task_is_journaled_and_found_again_at_text2video(
    server_factory: Callable[..., Any], sandbox: SandboxServer, tmp_path: Path
) -> None:
    async with Client(server_factory(KLING_MCP_MAX_WAIT=0.01)) as client:
        created = task_of(await client.call_tool(TEXT, {"prompt": "a slow sunrise"}))
        assert created["status"] == "submitted"
        again = task_of(await client.call_tool(GET, {"task_id": created["task_id"], "wait_seconds": 0}))
    assert again["task_id"] == created["task_id"]
    gets = [r.path for r in sandbox.state.requests if r.method == "GET"]
    assert gets and all(p.startswith("/v1/videos/text2video") for p in gets), gets
    entry = journal_entry(make_settings(sandbox, tmp_path), created["task_id"])
    assert entry is not None and entry.endpoint == "text2video" and entry.model == "kling-v2-master"


async def test_an_id_the_journal_does_not_know_is_found_at_text2video(
    server_factory: Callable[..., Any], tmp_path: Path
) -> None:
    async with Client(server_factory(KLING_MCP_MAX_WAIT=0.01)) as client:
        created = task_of(await client.call_tool(TEXT, {"prompt": "a slow sunrise"}))
    journal_file(tmp_path).unlink()
    async with Client(server_factory()) as client:
        found = task_of(await client.call_tool(GET, {"task_id": created["task_id"], "wait_seconds": 5}))
    assert found["status"] == "succeed"


async def test_a_dropped_answer_is_adopted_not_paid_twice(
    server_factory: Callable[..., Any], sandbox: SandboxServer
) -> None:
    sandbox.state.inject(create_drop=1)
    async with Client(server_factory()) as client:
        task = task_of(await client.call_tool(TEXT, {"prompt": "a kite over the dunes"}))
    assert task["status"] == "succeed"
    assert len(sandbox.state.tasks) == 1, "the retry must find the first task, not create a second"
    assert list(sandbox.state.tasks) == [task["task_id"]]


async def test_a_combination_the_table_refuses_is_refused_before_kling(client: Client, sandbox: SandboxServer) -> None:
    result = await client.call_tool(TEXT, {"prompt": "waves", "generate_audio": True})
    assert result.is_error
    assert "generate_audio is not supported by kling-v2-master" in text_of(result)
    assert "kling-v3" in text_of(result) and "No request was sent to Kling." in text_of(result)
    assert sandbox.state.requests == []


async def test_cfg_scale_on_v3_is_sent_and_kling_refusal_explained(client: Client, sandbox: SandboxServer) -> None:
    """Unknown in the table: sent as asked; the sandbox (like Kling's docs for v2.x) refuses it."""
    result = await client.call_tool(TEXT, {"prompt": "waves", "model": "kling-v3", "cfg_scale": 0.5})
    [create] = sandbox.state.creates()
    assert create.body is not None and create.body["cfg_scale"] == 0.5
    assert result.is_error
    text = text_of(result)
    assert "cfg_scale is not supported by kling-v3" in text, "Kling's own reason"
    assert "cfg_scale on kling-v3 was sent for Kling to judge" in text
    assert "use a model documented to take it: kling-v1, kling-v1-6." in text
    assert len(sandbox.state.tasks) == 0


async def test_progress_and_download(server_factory: Callable[..., Any], tmp_path: Path) -> None:
    updates: list[str] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:  # noqa: ARG001
        updates.append(message or "")

    folder = tmp_path / "videos"
    async with Client(server_factory(KLING_MCP_DOWNLOAD_DIR=str(folder))) as client:
        result = await client.call_tool(TEXT, {"prompt": "fog lifts", "timeout": 20}, progress_callback=on_progress)
    [video] = task_of(result)["videos"]
    assert video["local_path"] and Path(video["local_path"]).parent == folder
    assert Path(video["local_path"]).read_bytes()[4:8] == b"ftyp"
    assert updates and updates[-1].startswith("succeed · ")
