"""A task lives at the Kling API it was created at: a journal shared with a sandbox (or the other Kling site) never
answers for it elsewhere, never lists it elsewhere, and its durations never teach another API's poll schedule."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client

from kling_mcp.config import Settings
from kling_mcp.sandbox.runner import SandboxServer
from kling_mcp.server.build import build_server
from kling_mcp.service.journal import open_journal
from tests.conftest import FAST_RETRY, make_settings, text_of
from tests.names import GENERATE

pytestmark = pytest.mark.anyio

ELSEWHERE = "http://127.0.0.1:9"  # nothing listens there: a request to it would fail loudly


async def _make_task(settings: Settings) -> str:
    async with Client(build_server(settings, retry_policy=FAST_RETRY)) as client:
        made = await client.call_tool(GENERATE, {"prompt": "a boat", "start_image_url": "https://example.com/a.png"})
    assert not made.is_error and made.structured_content is not None, text_of(made)
    return str(made.structured_content["result"]["task_id"])


async def test_another_kling_api_neither_answers_nor_lists_the_task(sandbox: SandboxServer, tmp_path: Path) -> None:
    here = make_settings(sandbox, tmp_path)
    task_id = await _make_task(here)
    elsewhere = make_settings(sandbox, tmp_path, KLING_API_BASE_URL=ELSEWHERE)  # the same journal file
    async with Client(build_server(elsewhere, retry_policy=FAST_RETRY)) as client:
        got = await client.call_tool("kling_get_video_task", {"task_id": task_id})
        listed = await client.call_tool("kling_list_video_tasks", {})
    assert got.is_error
    assert f"created through the Kling API at {sandbox.url}, not the one this server uses ({ELSEWHERE})" in text_of(got)
    assert listed.structured_content == {"result": []}
    async with Client(build_server(here, retry_policy=FAST_RETRY)) as client:  # where it was made, all is as before
        again = await client.call_tool("kling_get_video_task", {"task_id": task_id})
        listed_here = await client.call_tool("kling_list_video_tasks", {})
    assert not again.is_error and again.structured_content is not None, text_of(again)
    assert again.structured_content["result"]["status"] == "succeed"
    assert [t["task_id"] for t in (listed_here.structured_content or {})["result"]] == [task_id]


async def test_the_schedule_learns_only_from_its_own_kling_api(sandbox: SandboxServer, tmp_path: Path) -> None:
    settings = make_settings(sandbox, tmp_path)
    await _make_task(settings)
    journal = open_journal(settings.resolved_journal())
    try:
        [entry] = journal.recent()
        assert entry.kling_host == sandbox.url
        profile = (entry.model, entry.mode, entry.duration)
        assert len(journal.durations(*profile, kling_host=sandbox.url)) == 1
        assert journal.durations(*profile, kling_host=ELSEWHERE) == []
    finally:
        journal.close()


async def test_an_unreachable_kling_host_fails_a_generate_call_at_once(sandbox: SandboxServer, tmp_path: Path) -> None:
    """Connection refused: the default retry policy no longer waits ~27 s; the error says nothing was created."""
    import time

    import anyio

    settings = make_settings(sandbox, tmp_path, KLING_API_BASE_URL=ELSEWHERE)
    started = time.monotonic()
    async with Client(build_server(settings)) as client:  # the default retry policy, as a real server has
        with anyio.fail_after(10):
            result = await client.call_tool(
                GENERATE, {"prompt": "a boat", "start_image_url": "https://example.com/a.png"}
            )
    assert result.is_error
    assert time.monotonic() - started < 5
    text = text_of(result)
    assert "connection refused" in text and "no task was created" in text, text
