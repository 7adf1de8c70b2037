"""A local reference video for motion control, end to end over streamable HTTP: a real server process with a
public URL lends the file, the sandbox (standing in for Kling) fetches it from that URL and reads its length, and
the finished video is as long as the file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from kling_mcp.config import Settings
from kling_mcp.sandbox.runner import SandboxServer
from kling_mcp.sandbox.state import ReferenceFetch
from tests.conftest import text_of
from tests.http_support import TOKEN, HttpServer, connect, free_port, run_server
from tests.names import GET, LIST, MOTION
from tests.video_files import write_video

# Every test here starts a server process.
pytestmark = [pytest.mark.anyio, pytest.mark.slow]

IMAGE = "https://images.example.com/dancer.png"


@pytest.fixture
def lending(settings: Settings, tmp_path: Path) -> Iterator[HttpServer]:
    """A server whose public URL is its own loopback address, which may read files under `tmp_path/clips`."""
    port = free_port()
    env = {
        "KLING_MCP_AUTH_TOKEN": TOKEN,
        "KLING_MCP_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "KLING_MCP_FILE_ROOTS": str(tmp_path / "clips"),
    }
    (tmp_path / "clips").mkdir()
    with run_server(settings, tmp_path, port=port, **env) as server:
        yield server


async def test_a_local_reference_is_fetched_by_kling_from_the_public_url_and_sets_the_length(
    lending: HttpServer, sandbox: SandboxServer, tmp_path: Path
) -> None:
    video = write_video(tmp_path / "clips" / "dance.mp4", 7.5, moov_last=True)
    async with connect(lending.mcp_url) as client:
        result = await client.call_tool(
            MOTION, {"image_url": IMAGE, "video_url": str(video), "character_orientation": "image", "timeout": 30}
        )
        found = await client.call_tool(GET, {"task_id": result.structured_content["result"]["task_id"]})
        listed = await client.call_tool(LIST, {})
    # Over HTTP the server's disk is not the caller's: look-ups and the list name the local reference, never place it.
    for looked_up in (found, listed):
        assert looked_up.structured_content is not None and str(video) not in str(looked_up.structured_content)
        assert "'reference_video_url': 'dance.mp4'" in str(looked_up.structured_content)
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    task = result.structured_content["result"]
    [create] = sandbox.state.creates()
    assert create.body is not None
    sent = create.body["video_url"]
    assert sent.startswith(f"{lending.base_url}/kling/reference/") and str(video) not in sent
    # Kling (the sandbox) fetched the file from us and read 7.5 s from it; the finished video is that long.
    assert sandbox.state.reference_fetches == [ReferenceFetch(sent, 200, 7.5)]
    assert task["status"] == "succeed" and task["videos"][0]["duration"] == 7.5
    token = sent.rsplit("/", 1)[1]
    assert token not in lending.stderr() and token not in text_of(result)
    async with httpx.AsyncClient() as http:
        served = await http.get(sent)
        unknown = await http.get(f"{lending.base_url}/kling/reference/{'x' * 43}")
    assert served.status_code == 200 and served.content == video.read_bytes()
    assert served.headers["content-type"] == "video/mp4"
    assert unknown.status_code == 404


async def test_a_local_reference_outside_the_roots_is_refused_with_nothing_sent(
    lending: HttpServer, sandbox: SandboxServer, tmp_path: Path
) -> None:
    outside = write_video(tmp_path / "elsewhere" / "dance.mp4", 5)
    async with connect(lending.mcp_url) as client:
        result = await client.call_tool(
            MOTION, {"image_url": IMAGE, "video_url": str(outside), "character_orientation": "image"}
        )
    text = text_of(result)
    assert result.is_error and "video_url" in text and "outside the directories" in text, text
    assert sandbox.state.requests == [] and sandbox.state.reference_fetches == []
