"""What a task was made from, shown by the look-ups: a storyboard's shots and a motion task's reference video, from
the journal (through a real MCP client against the sandbox)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.client.extension import advertise
from mcp.server.apps import APP_MIME_TYPE, EXTENSION_ID

from kling_mcp.config import Settings
from kling_mcp.sandbox.runner import SandboxServer
from kling_mcp.server.build import build_server
from kling_mcp.server.replies import relative_paths
from kling_mcp.service.describe.task_results import MadeFrom, VideoTaskResult
from tests.conftest import FAST_RETRY, text_of
from tests.names import GET, LIST, MOTION, TEXT, WATCH

pytestmark = pytest.mark.anyio

SHOTS = [
    {"prompt": "a lighthouse at dusk, wide", "duration": 3},
    {"prompt": "<img src=x onerror=alert(1)> the keeper climbs", "duration": 4},
    {"prompt": "the lamp turns on", "duration": 3},
]


def task_of(result: Any) -> dict[str, Any]:
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    task: dict[str, Any] = result.structured_content["result"]
    return task


async def test_a_storyboards_shots_and_shot_type_are_in_the_look_ups(
    server_factory: Callable[..., Any],
) -> None:
    async with Client(server_factory(KLING_MCP_MAX_WAIT=0.01)) as client:
        arguments = {"prompt": "a stormy evening", "model": "kling-v3", "multi_prompt": SHOTS}
        created = task_of(await client.call_tool(TEXT, arguments))
        plain = task_of(await client.call_tool(TEXT, {"prompt": "a calm evening", "model": "kling-v3"}))
        found = task_of(await client.call_tool(GET, {"task_id": created["task_id"], "wait_seconds": 0}))
        listed = (await client.call_tool(LIST, {})).structured_content
    expected = {
        "shots": SHOTS,
        "shot_type": "customize",
        "reference_video_url": None,
        "character_orientation": None,
        "keep_original_sound": None,
    }
    assert found["made_from"] == expected
    assert listed is not None
    by_id = {task["task_id"]: task for task in listed["result"]}
    assert by_id[created["task_id"]]["made_from"] == expected
    assert by_id[plain["task_id"]].get("made_from") is None  # made from its prompt alone


async def test_a_motion_tasks_reference_is_in_the_look_ups_without_its_credentials(
    server_factory: Callable[..., Any], sandbox: SandboxServer
) -> None:
    reference = sandbox.url.replace("://", "://dancer:hunter2@") + "/sandbox/reference/4s.mp4"
    arguments = {
        "image_url": "https://images.example.com/dancer.png",
        "video_url": reference,
        "character_orientation": "video",
        "keep_original_sound": False,
    }
    async with Client(server_factory(KLING_MCP_MAX_WAIT=0.01)) as client:
        created = task_of(await client.call_tool(MOTION, arguments))
        found = task_of(await client.call_tool(GET, {"task_id": created["task_id"], "wait_seconds": 0}))
        listed = (await client.call_tool(LIST, {})).structured_content
    expected = {
        "shots": None,
        "shot_type": None,
        "reference_video_url": f"{sandbox.url}/sandbox/reference/4s.mp4",
        "character_orientation": "video",
        "keep_original_sound": False,
    }
    assert found["made_from"] == expected
    assert listed is not None and listed["result"][0]["made_from"] == expected
    assert "hunter2" not in str(found) + str(listed)


async def test_the_players_follow_tool_shows_the_shots_of_a_failed_storyboard(
    settings: Settings, sandbox: SandboxServer
) -> None:
    sandbox.state.inject(fail_tasks=1)
    sandbox.state.config.run_seconds = 0.25
    apps = [advertise(EXTENSION_ID, {"mimeTypes": [APP_MIME_TYPE]})]
    async with Client(build_server(settings, retry_policy=FAST_RETRY), extensions=apps) as client:
        arguments = {"prompt": "a stormy evening", "model": "kling-v3", "multi_prompt": SHOTS, "timeout": 0.05}
        created = task_of(await client.call_tool(TEXT, arguments))
        state = await client.call_tool(WATCH, {"task_id": created["task_id"], "wait_seconds": 5})
    assert state.structured_content is not None, text_of(state)
    result = state.structured_content["result"]
    assert result["status"] == "failed"
    assert result["made_from"]["shots"] == SHOTS and result["made_from"]["shot_type"] == "customize"


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        pytest.param("/srv/clips/dance.mp4", "dance.mp4", id="path"),
        pytest.param("~/clips/dance.mp4", "dance.mp4", id="home-path"),
        pytest.param("file:///srv/clips/my%20dance.mp4", "my dance.mp4", id="file-url"),
        pytest.param("https://cdn.example/clips/dance.mp4", "https://cdn.example/clips/dance.mp4", id="url-as-given"),
    ],
)
def test_a_remote_caller_sees_a_local_reference_by_its_name_only(given: str, shown: str) -> None:
    """Over HTTP the server's disk is not the caller's: a local reference video is named, never placed."""
    task = VideoTaskResult(
        task_id="t1",
        status="succeed",
        done=True,
        next_step="",
        made_from=MadeFrom(reference_video_url=given, character_orientation="image"),
    )
    seen = relative_paths(task, Path("/srv/downloads"))
    assert seen.made_from is not None
    assert (seen.made_from.reference_video_url, seen.made_from.character_orientation) == (shown, "image")
