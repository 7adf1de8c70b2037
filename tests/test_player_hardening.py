"""Hardening against what outside parties send: Kling's video URLs, and the next step naming the right tool."""

from __future__ import annotations

import base64
import io
import json
import time
from pathlib import Path

import anyio
import httpx
import pytest
from mcp import Client
from mcp.client.extension import advertise
from mcp.server.apps import APP_MIME_TYPE, EXTENSION_ID
from PIL import Image
from pydantic import SecretStr

from kling_mcp.api.client import KlingClient
from kling_mcp.api.models import Image2VideoBody, Task, is_media_url, parse_task
from kling_mcp.api.signing import JwtSigner
from kling_mcp.config import Settings
from kling_mcp.sandbox.runner import SandboxServer
from kling_mcp.server.apps import KLING_MEDIA_DOMAINS, PLAYER_URI
from kling_mcp.server.build import build_server
from kling_mcp.service.describe.follow import thumbnail_of
from kling_mcp.service.prepare.images import ImagePolicy
from kling_mcp.service.wait.poller import TaskPoller
from tests.conftest import FAST_RETRY, text_of
from tests.names import GENERATE, GET, LIST, TEXT, WATCH

pytestmark = pytest.mark.anyio

APPS = advertise(EXTENSION_ID, {"mimeTypes": [APP_MIME_TYPE]})
ARGS = {"prompt": "a lantern sways", "start_image_url": "https://images.example.com/lantern.png"}
HOSTILE_URLS = [
    "javascript:alert(document.domain)",
    "JavaScript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "file:///etc/passwd",
    "http://v15-kling.klingai.com/video.mp4",  # plain http off this machine
    "https:///no-host",
    " https://v15-kling.klingai.com/video.mp4",
    "https://v15-kling.klingai.com/a b.mp4",
    "vbscript:msgbox",
    "//v15-kling.klingai.com/video.mp4",
]


@pytest.mark.parametrize("url", HOSTILE_URLS)
def test_kling_video_urls_that_are_not_https_are_dropped_at_the_wire_model(url: str) -> None:
    assert not is_media_url(url)
    data = {
        "task_id": "t1",
        "task_status": "succeed",
        "task_result": {"videos": [{"id": "v1", "url": url, "watermark_url": url, "duration": "5"}]},
    }
    for task in (parse_task(data), Task.model_validate_json(json.dumps(data))):  # query answers and callbacks
        [video] = task.videos
        assert (video.url, video.watermark_url) == (None, None)
        assert video.id == "v1"  # the rest of the task is still read
        assert "Kling sent a video url that is not an https URL; it was left out" in task.reader_notes


@pytest.mark.parametrize(
    "url", ["https://v15-kling.klingai.com/x.mp4?sig=1", "http://127.0.0.1:8123/sandbox/videos/t.mp4"]
)
def test_https_and_a_loopback_sandbox_are_kept(url: str) -> None:
    task = parse_task({"task_id": "t1", "task_status": "succeed", "task_result": {"videos": [{"url": url}]}})
    assert task.videos[0].url == url and task.reader_notes == []


async def test_a_javascript_video_url_from_kling_reaches_no_result_link_or_text(
    client: Client, sandbox: SandboxServer
) -> None:
    sandbox.state.inject(odd_video_url=1000)
    done = await client.call_tool(GENERATE, {**ARGS, "timeout": 10})
    assert sandbox.state.fault_hits["odd_video_url"] >= 1
    got = await client.call_tool(
        GET, {"task_id": done.structured_content["result"]["task_id"]} if done.structured_content else {}
    )
    for answer in (done, got):
        assert answer.structured_content is not None, text_of(answer)
        result = answer.structured_content["result"]
        assert (result["status"], result["videos"]) == ("succeed", [])
        assert "not an https URL" in result["status_message"]
        dumped = json.dumps(answer.model_dump(mode="json")).lower()
        assert "javascript:" not in dumped
        assert [block.type for block in answer.content] == ["text"]  # no resource_link to it


@pytest.mark.parametrize(
    ("tool", "arguments", "other"),
    [(TEXT, {"prompt": "a slow sunrise"}, GENERATE), (GENERATE, ARGS, TEXT)],
)
async def test_an_unfinished_task_names_the_tool_that_made_it(
    client: Client, sandbox: SandboxServer, tool: str, arguments: dict[str, object], other: str
) -> None:
    # A model told "do not call <the other tool> again" may call the one that made the task again, and pay twice.
    sandbox.state.config.run_seconds = 30.0
    created = await client.call_tool(tool, {**arguments, "timeout": 0.1})
    assert created.structured_content is not None, text_of(created)
    task_id = created.structured_content["result"]["task_id"]
    got = await client.call_tool(GET, {"task_id": task_id})
    listed = await client.call_tool(LIST, {})
    assert listed.structured_content is not None
    [in_list] = [task for task in listed.structured_content["result"] if task["task_id"] == task_id]
    for result in (created.structured_content["result"], got.structured_content["result"], in_list):
        assert result["done"] is False
        assert f"do not call {tool} again" in result["next_step"]
        assert other not in result["next_step"]
    for answer in (created, got):
        assert f"do not call {tool} again" in text_of(answer) and other not in text_of(answer)


async def test_a_refused_text_call_names_the_text_tool(client: Client, sandbox: SandboxServer) -> None:
    sandbox.state.inject(create_error=1, create_error_code=1201)  # Kling refuses: no task, calling again is safe
    failed = await client.call_tool(TEXT, {"prompt": "a slow sunrise", "timeout": 5})
    assert failed.is_error
    assert f"calling {TEXT} again is safe" in text_of(failed) and GENERATE not in text_of(failed), text_of(failed)


def _no_nulls(value: object) -> bool:
    if isinstance(value, dict):
        return all(v is not None and _no_nulls(v) for v in value.values())
    if isinstance(value, list):
        return all(_no_nulls(v) for v in value)
    return True


async def _listed_ui(client: Client) -> object:
    [player] = [r for r in (await client.list_resources()).resources if r.uri == PLAYER_URI]
    return (player.meta or {}).get("ui")


@pytest.mark.parametrize("sandbox_mode", [False, True])
async def test_the_listed_player_meta_is_valid_and_the_same_before_and_after_a_read(
    settings: Settings, sandbox: SandboxServer, tmp_path: Path, sandbox_mode: bool
) -> None:
    if sandbox_mode:  # the in-process sandbox's port is only known once it starts
        settings = Settings(KLING_MCP_SANDBOX=True, KLING_MCP_JOURNAL=str(tmp_path / "sandbox.sqlite3"))
    async with Client(build_server(settings), extensions=[APPS]) as apps_client:
        first = await _listed_ui(apps_client)
        [content] = (await apps_client.read_resource(PLAYER_URI)).contents
        assert content.meta is not None
        read = content.meta["ui"]
        assert first == read == await _listed_ui(apps_client)
    assert isinstance(read, dict) and _no_nulls(read), read  # ext-apps' McpUiResourceMeta refuses null domain lists
    assert read["prefersBorder"] is True
    assert set(read["csp"]) == {"resourceDomains"}
    if not sandbox_mode:
        assert read["csp"]["resourceDomains"] == [*KLING_MEDIA_DOMAINS, sandbox.url]


async def test_two_calls_waiting_on_one_task_share_a_round_and_both_get_it(sandbox: SandboxServer) -> None:
    # A generate call and the player following the same task wait together: the round's list answers both (it
    # answered only the last, and the other call failed with "status query did not complete").
    config = sandbox.state.config
    async with httpx.AsyncClient(base_url=sandbox.url, timeout=10) as http:
        kling = KlingClient(http, JwtSigner(config.access_key, SecretStr(config.secret_key)), policy=FAST_RETRY)
        body = Image2VideoBody(
            model_name="kling-v2-master", image="https://images.example.com/a.png", external_task_id="kmcp-shared"
        )
        task = await kling.create_task("image2video", body)
        poller, answered = TaskPoller(kling), []

        async def wait() -> None:
            answered.append(await poller.poll("image2video", task.task_id, due=time.monotonic() + 0.1))

        async with anyio.create_task_group() as group:
            group.start_soon(wait)
            group.start_soon(wait)
    assert [t.task_id for t in answered] == [task.task_id, task.task_id]


async def test_the_follow_tool_gives_a_thumbnail_of_a_start_frame_read_from_the_servers_disk(
    settings: Settings, sandbox: SandboxServer, tmp_path: Path
) -> None:
    # The view cannot load a path on the server: the follow tool sends a small JPEG of it instead.
    frame = tmp_path / "frame.png"
    Image.new("RGB", (640, 360), (200, 40, 40)).save(frame)
    sandbox.state.config.run_seconds = 30.0
    async with Client(build_server(settings), extensions=[APPS]) as apps_client:
        created = await apps_client.call_tool(
            GENERATE, {"prompt": "a red card", "start_image_url": str(frame), "timeout": 0.1}
        )
        assert created.structured_content is not None, text_of(created)
        task_id = created.structured_content["result"]["task_id"]
        state = await apps_client.call_tool(WATCH, {"task_id": task_id, "wait_seconds": 0})
    assert state.structured_content is not None, text_of(state)
    thumbnail = state.structured_content["request"]["start_thumbnail"]
    prefix = "data:image/jpeg;base64,"
    assert thumbnail.startswith(prefix)
    with Image.open(io.BytesIO(base64.b64decode(thumbnail.removeprefix(prefix)))) as small:
        assert small.size == (160, 90)
    assert len(thumbnail) < 8_000


def test_no_thumbnail_of_a_file_the_image_policy_no_longer_lets_be_read(tmp_path: Path) -> None:
    frame = tmp_path / "inside" / "frame.png"
    frame.parent.mkdir()
    Image.new("RGB", (32, 32)).save(frame)
    reference = f"file://{frame} (png, 1 bytes)"
    assert thumbnail_of(reference, ImagePolicy()) is not None
    assert thumbnail_of(reference, ImagePolicy(allow_local_files=False)) is None
    assert thumbnail_of(reference, ImagePolicy.for_roots([tmp_path / "elsewhere"], remote=True)) is None
    assert thumbnail_of("<data URI png, 1 bytes>", ImagePolicy()) is None
    assert thumbnail_of("https://images.example.com/a.png", ImagePolicy()) is None
