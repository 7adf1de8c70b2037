"""Saving finished videos: opt-in, atomic, size-checked, and never an error for a task that succeeded."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import Client

from kling_mcp.sandbox.runner import SandboxServer
from kling_mcp.server.replies import download_time_limit
from kling_mcp.service.describe.download import DownloadError, VideoDownloader, file_name
from kling_mcp.service.describe.task_results import VideoFile, VideoTaskResult
from tests.conftest import ASSETS, text_of

pytestmark = pytest.mark.anyio

IMAGE_URL = "https://images.example.com/start.png"
SAMPLE_MP4 = (ASSETS / "sample.mp4").read_bytes()


async def _generate(client: Client) -> dict[str, Any]:
    result = await client.call_tool(
        "kling_generate_video_from_image", {"prompt": "a kite climbs", "start_image_url": IMAGE_URL}
    )
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    task: dict[str, Any] = result.structured_content["result"]
    return task


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part")) if folder.exists() else []


async def test_download_dir_saves_each_finished_video(
    server_factory: Callable[..., Any], sandbox: SandboxServer, tmp_path: Path
) -> None:
    folder = tmp_path / "videos"
    async with Client(server_factory(KLING_MCP_DOWNLOAD_DIR=str(folder))) as client:
        result = await client.call_tool(
            "kling_generate_video_from_image", {"prompt": "a kite climbs", "start_image_url": IMAGE_URL}
        )
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    task = result.structured_content["result"]
    [video] = task["videos"]
    saved = Path(video["local_path"])
    assert saved == folder / f"kling-{task['task_id']}.mp4"
    assert saved.read_bytes() == SAMPLE_MP4
    assert video["download_error"] is None
    assert video["url"].startswith(sandbox.url)
    assert f"saved to {saved}" in text_of(result)
    assert "download them" not in text_of(result), "the text must not ask to save what was saved"
    assert text_of(result).endswith("Kling deletes its copy after 30 days; the saved file stays.")
    assert "local_path" in task["next_step"]
    assert _leftovers(folder) == []


async def test_nothing_is_saved_unless_asked(client: Client, tmp_path: Path) -> None:
    task = await _generate(client)
    [video] = task["videos"]
    assert video["local_path"] is None and video["download_error"] is None
    assert not any(tmp_path.rglob("*.mp4"))


async def test_get_task_download_true_saves_into_the_users_downloads_folder(
    server_factory: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    async with Client(server_factory()) as client:
        await _get_with_download(client, home)


async def _get_with_download(client: Client, home: Path) -> None:
    task = await _generate(client)
    result = await client.call_tool("kling_get_video_task", {"task_id": task["task_id"], "download": True})
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    [video] = result.structured_content["result"]["videos"]
    saved = Path(video["local_path"])
    assert saved == home / "Downloads" / "kling-mcp" / f"kling-{task['task_id']}.mp4"
    assert saved.read_bytes() == SAMPLE_MP4
    # Asking again reuses the finished file instead of downloading it twice.
    before = saved.stat().st_mtime_ns
    again = await client.call_tool("kling_get_video_task", {"task_id": task["external_task_id"], "download": True})
    assert again.structured_content is not None
    assert again.structured_content["result"]["videos"][0]["local_path"] == str(saved)
    assert saved.stat().st_mtime_ns == before


async def test_download_false_overrides_the_setting_and_unfinished_tasks_are_not_downloaded(
    server_factory: Callable[..., Any], sandbox: SandboxServer, tmp_path: Path
) -> None:
    folder = tmp_path / "videos"
    sandbox.state.config.run_seconds = 30  # the task stays `processing` for this test
    async with Client(server_factory(KLING_MCP_DOWNLOAD_DIR=str(folder))) as client:
        running = await client.call_tool(
            "kling_generate_video_from_image", {"prompt": "slow", "start_image_url": IMAGE_URL, "timeout": 0.2}
        )
        assert not running.is_error, text_of(running)
        assert running.structured_content is not None
        task = running.structured_content["result"]
        assert task["status"] in ("submitted", "processing") and task["videos"] == []
        sandbox.state.config.run_seconds = 0.0
        sandbox.state.tasks[task["task_id"]].finished_at = 0.0  # finish it now
        done = await client.call_tool("kling_get_video_task", {"task_id": task["task_id"], "download": False})
    assert done.structured_content is not None
    assert done.structured_content["result"]["status"] == "succeed"
    assert done.structured_content["result"]["videos"][0]["local_path"] is None
    assert not folder.exists()


async def test_a_failed_download_still_returns_the_finished_task(
    server_factory: Callable[..., Any], tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the download folder should be")
    async with Client(server_factory(KLING_MCP_DOWNLOAD_DIR=str(blocker))) as client:
        result = await client.call_tool(
            "kling_generate_video_from_image", {"prompt": "a kite climbs", "start_image_url": IMAGE_URL}
        )
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    task = result.structured_content["result"]
    assert task["status"] == "succeed"
    [video] = task["videos"]
    assert video["local_path"] is None
    assert "cannot write into" in video["download_error"]
    assert "not saved" in text_of(result) and video["url"] in text_of(result)
    assert "local_path" not in task["next_step"]


# The downloader alone, against the sandbox and against HTTP answers the sandbox never gives.


def _succeeded(url: str, task_id: str = "42") -> VideoTaskResult:
    return VideoTaskResult(
        task_id=task_id, status="succeed", videos=[VideoFile(url=url)], done=True, next_step="show it"
    )


async def test_downloader_against_the_sandbox_url_and_a_missing_video(sandbox: SandboxServer, tmp_path: Path) -> None:
    async with httpx.AsyncClient() as http:
        downloader = VideoDownloader(http, tmp_path)
        missing = await downloader.save(_succeeded(f"{sandbox.url}/sandbox/videos/nope.mp4"))
        assert (
            missing.videos[0].download_error == "the video URL answered HTTP 404 (Kling deletes videos after 30 days)"
        )
        small = VideoDownloader(http, tmp_path, max_bytes=1000)
        state = sandbox.state
        task = state.add_task("image2video", {"model_name": "kling-v2-master", "mode": "std", "duration": "5"})
        task.finished_at = 0.0
        too_big = await small.save(_succeeded(f"{sandbox.url}/sandbox/videos/{task.task_id}.mp4"))
        assert "more than KLING_MCP_DOWNLOAD_MAX_BYTES (1,000)" in (too_big.videos[0].download_error or "")
        ok = await downloader.save(_succeeded(f"{sandbox.url}/sandbox/videos/{task.task_id}.mp4", "a/b:c"))
    assert ok.videos[0].local_path == str(tmp_path / "kling-a_b_c.mp4")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kling-a_b_c.mp4"]


class _Body(httpx.AsyncByteStream):
    def __init__(self, *chunks: bytes, pause: float = 0.0) -> None:
        self._chunks = chunks
        self._pause = pause

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self._chunks:
            await anyio.sleep(self._pause)
            yield chunk


def _fake_cdn(routes: dict[str, httpx.Response]) -> httpx.AsyncClient:
    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/broken":
            raise httpx.ReadError("connection reset", request=request)
        return routes[request.url.path]

    return httpx.AsyncClient(transport=httpx.MockTransport(handle), base_url="https://cdn.example.com")


@pytest.mark.parametrize(
    ("path", "response", "expected"),
    [
        (
            "/short",
            httpx.Response(200, headers={"Content-Length": "9000"}, stream=_Body(SAMPLE_MP4[:5000])),
            "the download ended after 5,000 of 9,000 bytes",
        ),
        (
            "/endless",  # no Content-Length: the bound is enforced while streaming
            httpx.Response(200, stream=_Body(SAMPLE_MP4[:4000], b"\0" * 4000, b"\0" * 4000)),
            "the video is larger than KLING_MCP_DOWNLOAD_MAX_BYTES (10,000 bytes)",
        ),
        (
            "/html",
            httpx.Response(200, html="<html>please log in</html>"),
            "the video URL did not return an MP4 file",
        ),
        ("/slow", httpx.Response(200, stream=_Body(SAMPLE_MP4[:100], SAMPLE_MP4[100:], pause=0.2)), "longer than"),
        ("/broken", httpx.Response(500), "the download failed (ReadError: connection reset)"),
    ],
)
async def test_bad_downloads_leave_no_file(tmp_path: Path, path: str, response: httpx.Response, expected: str) -> None:
    async with _fake_cdn({path: response}) as http:
        downloader = VideoDownloader(http, tmp_path, max_bytes=10_000, timeout=0.3)
        with pytest.raises(DownloadError) as caught:
            await downloader.download(path, tmp_path / "kling-1.mp4")
    assert expected in str(caught.value)
    assert list(tmp_path.iterdir()) == []


async def test_redirects_are_followed_and_the_size_matches(tmp_path: Path) -> None:
    routes = {
        "/v.mp4": httpx.Response(302, headers={"Location": "https://cdn.example.com/real.mp4"}),
        "/real.mp4": httpx.Response(200, content=SAMPLE_MP4),
    }
    async with _fake_cdn(routes) as http:
        size = await VideoDownloader(http, tmp_path).download("/v.mp4", tmp_path / "sub" / "kling-1.mp4")
    assert size == len(SAMPLE_MP4)
    assert (tmp_path / "sub" / "kling-1.mp4").read_bytes() == SAMPLE_MP4


def test_file_names_are_safe_and_distinct() -> None:
    assert file_name("263259029593143761") == "kling-263259029593143761.mp4"
    assert file_name("263259029593143761", 1) == "kling-263259029593143761-2.mp4"
    assert file_name("../../etc/passwd") == "kling-etc_passwd.mp4"
    assert file_name("...") == "kling-task.mp4"


async def test_the_calls_time_limit_cuts_a_slow_download_short(tmp_path: Path) -> None:
    """A download must not make the tool result later than the client waits; it points to a later download."""
    slow = httpx.Response(200, stream=_Body(SAMPLE_MP4[:100], SAMPLE_MP4[100:], pause=0.2))
    async with _fake_cdn({"/slow.mp4": slow}) as http:
        downloader = VideoDownloader(http, tmp_path)  # its own limit (60 s) is far away
        with pytest.raises(DownloadError) as caught:
            await downloader.download("/slow.mp4", tmp_path / "kling-1.mp4", time_limit=0.15)
    assert "longer than" in str(caught.value)
    assert "download=true" in str(caught.value)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("requested", "waited", "allowed"),
    [
        (8.0, 2.0, 6.0),  # `timeout: 8`: what is left of the caller's 8 s
        (8.0, 7.5, 5.0),  # never less than the minimum, or a video finishing at the deadline is never saved
        (55.0, 10.0, 45.0),  # within the cap plus its grace: still the caller's time
        (300.0, 10.0, 48.0),  # more than the server waits (50 s): the cap plus an 8 s grace
        (None, 10.0, 48.0),  # no time named (kling_get_video_task without wait_seconds): the cap plus the grace
    ],
)
def test_a_download_gets_the_callers_time_not_the_servers_cap(
    requested: float | None, waited: float, allowed: float
) -> None:
    assert download_time_limit(requested, max_wait=50.0, waited=waited) == allowed


@pytest.mark.slow  # waits out the 5 s a download gets at least
async def test_a_short_timeout_bounds_the_download_too(
    server_factory: Callable[..., Any], sandbox: SandboxServer, tmp_path: Path
) -> None:
    sandbox.state.inject(video_slow=1, slow_seconds=12)
    # The HTTP timeout is no bound here: only the download's own time limit can cut the slow video short.
    server = server_factory(
        KLING_MCP_DOWNLOAD_DIR=str(tmp_path / "videos"), KLING_MCP_MAX_WAIT=20, KLING_MCP_HTTP_TIMEOUT=30
    )
    async with Client(server) as client:
        started = anyio.current_time()
        result = await client.call_tool(
            "kling_generate_video_from_image", {"prompt": "a kite climbs", "start_image_url": IMAGE_URL, "timeout": 1}
        )
        took = anyio.current_time() - started
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    [video] = result.structured_content["result"]["videos"]
    assert video["local_path"] is None
    assert "longer than 5 s" in video["download_error"]
    assert took < 9, f"timeout 1 s, yet the call took {took:.1f} s (the download ran on the server's 20 s cap)"
