"""MCP Apps on the wire: the player resource, its CSP, the bound tools, and what differs for Apps hosts (little)."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.client.extension import advertise
from mcp.server.apps import APP_MIME_TYPE, EXTENSION_ID

from kling_mcp.api.models import Task
from kling_mcp.config import Settings
from kling_mcp.sandbox.runner import SandboxServer
from kling_mcp.server.apps import KLING_MEDIA_DOMAINS, PLAYER_URI, loopback_origin
from kling_mcp.server.build import build_server
from kling_mcp.server.context import options_from
from kling_mcp.server.runtime import open_runtime
from kling_mcp.service.create.creating import Approval
from kling_mcp.service.describe.follow import follow
from kling_mcp.service.describe.owners import Viewer
from kling_mcp.service.failures import TaskNotFoundError
from kling_mcp.service.journal import JournalEntry, open_journal
from kling_mcp.service.prepare.estimates import profile_of
from kling_mcp.service.prepare.image_request import VideoRequest
from tests.conftest import FAST_RETRY, PROTOCOL_MODES, settled_journal_entry, text_of
from tests.names import GENERATE, GET, TEXT, TOOLS, WATCH

pytestmark = pytest.mark.anyio

ARGS = {"prompt": "a lantern sways", "start_image_url": "https://images.example.com/lantern.png"}
APPS = advertise(EXTENSION_ID, {"mimeTypes": [APP_MIME_TYPE]})


@pytest.fixture(params=PROTOCOL_MODES)
async def apps_client(request: pytest.FixtureRequest, settings: Settings) -> AsyncIterator[Client]:
    """A real client that renders MCP Apps, in memory against the real server, in both protocol modes."""
    server = build_server(settings, retry_policy=FAST_RETRY)
    async with Client(server, mode=request.param, extensions=[APPS]) as connected:
        yield connected


async def _tools(client: Client) -> dict[str, Any]:
    return {tool.name: tool for tool in (await client.list_tools()).tools}


async def test_generate_and_get_are_bound_to_the_player_and_the_follow_tool_is_app_only(apps_client: Client) -> None:
    tools = await _tools(apps_client)
    assert tools[GENERATE].meta["ui"] == {"resourceUri": PLAYER_URI}
    assert tools[GET].meta["ui"] == {"resourceUri": PLAYER_URI}
    assert tools[WATCH].meta["ui"] == {"resourceUri": PLAYER_URI, "visibility": ["app"]}
    assert not (tools["kling_list_video_tasks"].meta or {}).get("ui")
    assert tools[WATCH].annotations.read_only_hint is True
    if apps_client.protocol_version != "2025-11-25":  # that era's ServerCapabilities has no `extensions` field
        assert EXTENSION_ID in (apps_client.server_capabilities.extensions or {})


async def test_player_resource_is_a_self_contained_mcp_app_with_exact_csp(
    apps_client: Client, sandbox: SandboxServer
) -> None:
    listed = {r.uri: r for r in (await apps_client.list_resources()).resources}
    assert listed[PLAYER_URI].mime_type == APP_MIME_TYPE
    [content] = (await apps_client.read_resource(PLAYER_URI)).contents
    assert content.mime_type == APP_MIME_TYPE
    html = getattr(content, "text", "")
    assert html.startswith("<!DOCTYPE html>")
    # Nothing fetched from anywhere: no external script, style sheet, font or image in the document itself.
    assert not re.search(r"<(script|link|img|iframe)[^>]*\s(src|href)=", html, re.IGNORECASE)
    assert "@import" not in html and "url(" not in html
    assert content.meta is not None
    assert content.meta["ui"]["csp"] == {"resourceDomains": [*KLING_MEDIA_DOMAINS, sandbox.url]}
    assert "connectDomains" not in content.meta["ui"]["csp"]


@pytest.mark.slow  # the in-process sandbox's tasks take their default 5 s
async def test_sandbox_mode_declares_the_in_process_sandbox_it_starts(tmp_path: Path) -> None:
    settings = Settings(KLING_MCP_SANDBOX=True, KLING_MCP_JOURNAL=str(tmp_path / "j.sqlite3"))
    async with Client(build_server(settings), extensions=[APPS]) as client:
        [content] = (await client.read_resource(PLAYER_URI)).contents
        assert content.meta is not None
        domains = content.meta["ui"]["csp"]["resourceDomains"]
        assert domains[: len(KLING_MEDIA_DOMAINS)] == list(KLING_MEDIA_DOMAINS)
        [sandbox_origin] = domains[len(KLING_MEDIA_DOMAINS) :]
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", sandbox_origin)
        # The origin declared is the one the videos come from.
        done = await client.call_tool(GENERATE, {**ARGS, "timeout": 30})
        assert done.structured_content is not None
        assert done.structured_content["result"]["videos"][0]["url"].startswith(sandbox_origin + "/")


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("http://127.0.0.1:8123/v1", "http://127.0.0.1:8123"),
        ("http://localhost:9000", "http://localhost:9000"),
        ("http://[::1]:7000/", "http://[::1]:7000"),
        ("https://api-singapore.klingai.com", None),
        ("http://10.0.0.5:8000", None),
    ],
)
def test_only_a_loopback_kling_host_is_added_to_the_csp(url: str, origin: str | None) -> None:
    assert loopback_origin(url) == origin


async def test_clients_without_apps_see_the_tools_they_saw_before(client: Client) -> None:
    tools = await _tools(client)
    assert set(tools) == TOOLS
    refused = await client.call_tool(WATCH, {"task_id": "anything"})
    assert refused.is_error and GET in text_of(refused)


async def test_only_apps_hosts_are_told_the_player_follows_the_task(
    client: Client, apps_client: Client, sandbox: SandboxServer
) -> None:
    sandbox.state.config.run_seconds = 3.0
    plain = await client.call_tool(GENERATE, {**ARGS, "timeout": 0.1})
    apps = await apps_client.call_tool(GENERATE, {**ARGS, "timeout": 0.1})
    assert plain.structured_content is not None and apps.structured_content is not None
    plain_task, apps_task = plain.structured_content["result"], apps.structured_content["result"]
    assert plain_task["next_step"].startswith("The video is not ready yet. Call kling_get_video_task")
    assert "player" not in text_of(plain)
    assert "need not call kling_get_video_task" in apps_task["next_step"]
    assert "need not call kling_get_video_task" in text_of(apps)
    assert [block.type for block in plain.content] == ["text"]  # nothing to link to yet


async def test_results_link_the_video_and_the_saved_file(
    server_factory: Callable[..., Any], sandbox: SandboxServer, tmp_path: Path
) -> None:
    folder = tmp_path / "videos"
    async with Client(server_factory(KLING_MCP_DOWNLOAD_DIR=str(folder))) as client:
        result = await client.call_tool(GENERATE, ARGS)
    assert result.structured_content is not None
    task = result.structured_content["result"]
    links = [block for block in result.content if block.type == "resource_link"]
    assert [(link.uri, link.mime_type) for link in links] == [
        (task["videos"][0]["url"], "video/mp4"),
        ((folder / f"kling-{task['task_id']}.mp4").as_uri(), "video/mp4"),
    ]
    assert Path(links[1].uri.removeprefix("file://")).is_file()
    assert links[0].uri.startswith(sandbox.url)


async def test_cost_reaches_the_result_the_text_and_the_journal(client: Client, settings: Settings) -> None:
    result = await client.call_tool(GENERATE, ARGS)
    assert result.structured_content is not None
    task = result.structured_content["result"]
    # The default model (kling-v2-master), std, 5 s: 10 units in the sandbox's price table; a string, as Kling's.
    assert task["final_unit_deduction"] == "10"
    assert "\nCost at Kling: 10 units.\n" in text_of(result)
    entry = await settled_journal_entry(settings, task["task_id"], "succeed")
    assert entry is not None and entry.final_unit_deduction == "10"
    listed = await client.call_tool("kling_list_video_tasks", {})
    assert listed.structured_content is not None
    assert listed.structured_content["result"][0]["final_unit_deduction"] == "10"


def test_the_journal_keeps_the_cost_once_kling_reported_it(tmp_path: Path) -> None:
    journal = open_journal(tmp_path / "journal.sqlite3")
    try:
        journal.record_intent(JournalEntry("kmcp-c", "image2video", "kling-v2-master", "p"))
        charged = {"task_id": "T-c", "task_status": "succeed", "final_unit_deduction": "2.5"}
        journal.record_task(Task.model_validate(charged), "kmcp-c")
        entry = journal.get("T-c")
        assert entry is not None and entry.final_unit_deduction == "2.5"
        # A later answer without the field (a list page, say) does not erase what Kling charged.
        journal.record_task(Task.model_validate({"task_id": "T-c", "task_status": "succeed"}), "kmcp-c")
        again = journal.get("kmcp-c")
        assert again is not None and again.final_unit_deduction == "2.5"
    finally:
        journal.close()


def _seed(settings: Settings, seconds: list[float]) -> None:
    journal = open_journal(settings.resolved_journal())
    start = int(time.time() * 1000) - 3_600_000
    try:
        for i, took in enumerate(seconds):
            journal.record_intent(
                JournalEntry(
                    f"seed-{i}", "image2video", "kling-v2-master", "earlier", mode="std", duration=5,
                    task_id=f"seed-{i}", status="succeed", kling_created_ms=start,
                    kling_updated_ms=start + int(took * 1000),
                )
            )  # fmt: skip
    finally:
        journal.close()


async def test_follow_tool_reports_the_request_the_learned_window_and_when_to_ask_again(
    apps_client: Client, settings: Settings, sandbox: SandboxServer
) -> None:
    # Five earlier tasks of this profile took 20-24 s: the learned window is 20-2.5-2 .. 24+2.5+4 s.
    _seed(settings, [20.0, 21.0, 22.0, 23.0, 24.0])
    sandbox.state.config.run_seconds = 30.0
    created = await apps_client.call_tool(GENERATE, {**ARGS, "timeout": 0.1})
    assert created.structured_content is not None
    task_id = created.structured_content["result"]["task_id"]
    state = await apps_client.call_tool(WATCH, {"task_id": task_id})
    assert state.structured_content is not None, text_of(state)
    follow = state.structured_content
    assert follow["result"]["status"] in ("submitted", "processing")
    assert follow["request"] == {
        "prompt": ARGS["prompt"], "model": "kling-v2-master", "mode": "std", "duration": 5,
        "start_image": ARGS["start_image_url"], "end_image": None, "start_thumbnail": None,
    }  # fmt: skip
    assert follow["expected_seconds"] == [15.5, 30.5]
    # A young task is before the window: the next check is at the window's start, never sooner than the minimum gap.
    assert 14.0 <= follow["next_check_seconds"] <= 15.5
    assert 0 <= follow["elapsed_seconds"] < 5


async def test_follow_tool_names_the_tool_that_made_the_task(apps_client: Client, sandbox: SandboxServer) -> None:
    sandbox.state.config.run_seconds = 30.0
    created = await apps_client.call_tool(TEXT, {"prompt": "a slow sunrise", "timeout": 0.1})
    assert created.structured_content is not None, text_of(created)
    state = await apps_client.call_tool(WATCH, {"task_id": created.structured_content["result"]["task_id"]})
    assert state.structured_content is not None, text_of(state)
    step = state.structured_content["result"]["next_step"]
    assert f"do not call {TEXT} again" in step and GENERATE not in step, step


async def test_follow_tool_reports_a_failed_task_with_klings_reason(
    apps_client: Client, sandbox: SandboxServer
) -> None:
    sandbox.state.inject(fail_tasks=1)
    sandbox.state.config.run_seconds = 0.25
    created = await apps_client.call_tool(GENERATE, {**ARGS, "timeout": 0.05})
    assert created.structured_content is not None
    task_id = created.structured_content["result"]["task_id"]
    state = await apps_client.call_tool(WATCH, {"task_id": task_id, "wait_seconds": 5})
    assert not state.is_error, text_of(state)
    assert state.structured_content is not None
    result = state.structured_content["result"]
    assert (result["status"], result["done"]) == ("failed", True)
    assert result["status_message"] == "Failure to pass the risk control system"
    assert state.structured_content["next_check_seconds"] is None


async def test_follow_sees_only_the_viewers_own_tasks(settings: Settings) -> None:
    # The player's follow tool applies the same owner rule as kling_get_video_task: another owner's task is unknown.
    async with AsyncExitStack() as stack:
        runtime = await open_runtime(settings, options_from(settings), stack, FAST_RETRY)
        request = VideoRequest.model_validate({**ARGS, "timeout": 5})
        approval = Approval(await runtime.service.estimate(profile_of(request)), "test")
        outcome = await runtime.service.generate(request, approval=approval, viewer=Viewer(owner="oauth:alice"))
        task_id = outcome.result.task_id
        assert task_id is not None
        mine = await follow(runtime.service, task_id, 0, viewer=Viewer(owner="oauth:alice"))
        assert mine.result.status == "succeed"
        with pytest.raises(TaskNotFoundError):
            await follow(runtime.service, task_id, 0, viewer=Viewer(owner="oauth:bob"))
        admin = await follow(runtime.service, task_id, 0, viewer=Viewer(owner="oauth:root", sees_all=True))
        assert admin.result.task_id == task_id


@pytest.mark.parametrize(
    ("amount", "words"),
    [("1", "1 unit"), ("1.000", "1.000 unit"), ("0.5", "0.5 units"), ("10", "10 units"), ("n/a", "n/a units")],
)
def test_a_cost_reads_as_words(amount: str, words: str) -> None:
    from kling_mcp.service.describe.task_results import _units

    assert _units(amount) == words
