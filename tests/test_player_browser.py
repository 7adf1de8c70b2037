"""The player view in a real browser: Chromium hosts it with the real AppBridge, wired to the real server.

Each test renders the view from `resources/read` of the tool's `_meta.ui.resourceUri` under the CSP the resource
declares, lets the tool return before the task is done, and watches the view follow the task to its end.
Screenshots of each state land in the test's tmp folder (and in KLING_MCP_SCREENSHOTS when set).
"""

from __future__ import annotations

import base64
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from kling_mcp.sandbox.runner import SandboxServer
from kling_mcp.sandbox.state import SandboxConfig
from kling_mcp.service.journal import JournalEntry, open_journal
from tests.apps_host import (
    CHROMIUM,
    CHROMIUM_FLAGS,
    apps_client,
    build_site,
    mcp_bridge,
    require_browser,
    serve_site,
)
from tests.conftest import EXAMPLE_PNG, make_settings
from tests.http_support import run_server
from tests.names import GET, LIST, WATCH

pytestmark = [pytest.mark.slow, pytest.mark.anyio]

PROMPT = "A paper boat drifts across a puddle"
# The tool call gives up after MAX_WAIT s; the sandbox's task takes about three times as long.
MAX_WAIT = "2"
TASK_SECONDS = (2.0, 8.0)  # queued, then running
LOOPBACK = {"127.0.0.1", "localhost"}
# Resolves once the video has its first frame (`loadeddata`); fails on a media error or after 20 s.
LOADED_DATA = """(v) => new Promise((ok, fail) => {
    const why = () => `readyState ${v.readyState}, error ${v.error && v.error.code}`;
    if (v.readyState >= 2) ok();
    if (v.error) fail(new Error("video error: " + why()));
    v.addEventListener("loadeddata", () => ok());
    v.addEventListener("error", () => fail(new Error("video error: " + why())));
    setTimeout(() => fail(new Error("no loadeddata in 20 s: " + why())), 20000);
})"""


@dataclass
class Host:
    """The browser page hosting the view, and what the test saw it do."""

    page: Any
    site_port: int
    shots: Path
    requests: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)

    @property
    def view(self) -> Any:
        """The view's frame: the sandbox proxy's inner iframe."""
        return self.page.frame_locator("#view").frame_locator("iframe")

    async def start(self, args: dict[str, Any], theme: str = "light") -> None:
        await self.page.evaluate(
            "(options) => window.startHost(options)",
            {
                "toolName": "kling_generate_video_from_image",
                "args": args,
                "theme": theme,
                "sandboxUrl": f"http://localhost:{self.site_port}/sandbox.html",
            },
        )

    async def shot(self, name: str) -> None:
        await self.page.locator("#view").screenshot(path=str(self.shots / f"{name}.png"))

    async def tool_result(self, timeout: float = 30.0) -> dict[str, Any]:
        handle = await self.page.wait_for_function("() => window.host.toolResult", timeout=timeout * 1000)
        value: dict[str, Any] = await handle.json_value()
        return value


def _seed_history(journal_path: str, count: int, seconds: float) -> None:
    """Earlier finished tasks of the profile the tests use, so the learned schedule knows when one finishes."""
    journal = open_journal(journal_path)
    now_ms = int(time.time() * 1000)
    try:
        for i in range(count):
            created = now_ms - 3_600_000 + i * 60_000
            journal.record_intent(
                JournalEntry(
                    external_task_id=f"seed-{i}",
                    endpoint="image2video",
                    model="kling-v2-master",
                    prompt="earlier",
                    mode="std",
                    duration=5,
                    task_id=f"seed-task-{i}",
                    status="succeed",
                    kling_created_ms=created,
                    kling_updated_ms=created + int((seconds + 0.2 * i) * 1000),
                )
            )
    finally:
        journal.close()


@pytest.fixture
async def host(tmp_path: Path) -> AsyncIterator[tuple[Host, SandboxServer]]:
    """Chromium on the test host page, connected to a real server (streamable HTTP) that uses a fresh sandbox."""
    async with hosting(tmp_path) as hosted:
        yield hosted


@asynccontextmanager
async def hosting(
    tmp_path: Path, *, declare_apps: bool = True, max_wait: str = MAX_WAIT
) -> AsyncIterator[tuple[Host, SandboxServer]]:
    """The `host` fixture's setup: `declare_apps` false is a host that renders the view without declaring MCP Apps
    to the server; `max_wait` is the server's wait cap (how long a tool call may last)."""
    require_browser()
    from playwright.async_api import async_playwright

    shots = Path(os.environ.get("KLING_MCP_SCREENSHOTS", tmp_path / "screenshots"))
    shots.mkdir(parents=True, exist_ok=True)
    site = build_site(tmp_path / "site", EXAMPLE_PNG)
    queued, running = TASK_SECONDS
    with SandboxServer(SandboxConfig(queue_seconds=queued, run_seconds=running)) as sandbox:
        settings = make_settings(sandbox, tmp_path, KLING_MCP_POLL_MIN_INTERVAL=0.5, KLING_MCP_POLL_MAX_INTERVAL=2)
        _seed_history(settings.resolved_journal(), count=5, seconds=queued + running)
        with (
            run_server(settings, tmp_path, KLING_MCP_MAX_WAIT=max_wait) as server,
            serve_site(site) as site_port,
        ):
            async with (
                apps_client(server.mcp_url, declare_apps=declare_apps) as client,
                async_playwright() as playwright,
            ):
                browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
                try:
                    page = await browser.new_page(viewport={"width": 460, "height": 900})
                    seen = Host(page, site_port, shots)
                    page.on("request", lambda request: seen.requests.append(request.url))
                    page.on("console", lambda message: seen.console.append(message.text))
                    await page.expose_function("mcpRequest", mcp_bridge(client))
                    await page.goto(f"http://127.0.0.1:{site_port}/host.html")
                    yield seen, sandbox
                finally:
                    await browser.close()


def _off_loopback(urls: list[str]) -> list[str]:
    return [u for u in urls if urlsplit(u).scheme in ("http", "https") and urlsplit(u).hostname not in LOOPBACK]


async def _background(frame: Any) -> str:
    value: str = await frame.locator("body").evaluate("(body) => getComputedStyle(body).backgroundColor")
    return value


def _is_dark(rgb: str) -> bool:
    channels = [int(c) for c in rgb[rgb.index("(") + 1 : rgb.index(")")].split(",")[:3]]
    return sum(channels) / 3 < 100


async def test_view_follows_a_long_task_and_plays_the_video(host: tuple[Host, SandboxServer]) -> None:
    seen, sandbox = host
    undeclared_frame = f"http://127.0.0.1:{seen.site_port}/frame.png"  # loopback, but not in the declared CSP
    await seen.start({"prompt": PROMPT, "start_image_url": undeclared_frame, "model": "kling-v2-master"})
    view = seen.view

    # While the tool call waits, the view shows what was asked (from ui/notifications/tool-input).
    await view.locator("#prompt").wait_for(state="visible", timeout=15_000)
    assert await view.locator("#prompt").text_content() == PROMPT
    assert "kling-v2-master" in (await view.locator("#chips").text_content() or "")

    result = await seen.tool_result()
    task = result["structuredContent"]["result"]
    assert task["status"] in ("submitted", "processing") and task["done"] is False
    assert "need not call kling_get_video_task" in result["content"][0]["text"]

    # The view goes on asking (the app-only tool) and shows the learned estimate while the task runs.
    await view.locator("#expected").filter(has_text="usually ready after").wait_for(timeout=15_000)
    assert "elapsed" in (await view.locator("#timing").text_content() or "")
    await seen.shot("1-processing")

    video = view.locator("video")
    await video.wait_for(state="visible", timeout=30_000)
    await video.evaluate(LOADED_DATA)
    first = await video.evaluate("(v) => v.currentTime")
    await seen.page.wait_for_timeout(1200)
    state = await video.evaluate("(v) => ({t: v.currentTime, ready: v.readyState, src: v.currentSrc, err: v.error})")
    assert state["ready"] >= 2 and state["err"] is None
    assert state["t"] > first, f"video does not play: {state}"
    assert state["src"].startswith(sandbox.url + "/sandbox/videos/")
    await seen.shot("2-playing")

    details = await view.locator("#details").text_content() or ""
    assert task["task_id"] in details and "10 units (charged by Kling); estimated 10 units" in details
    assert await view.locator("#details a").get_attribute("href") == state["src"]
    assert await view.locator("#retention").is_visible()

    calls = await seen.page.evaluate("() => window.host.appCalls")
    # The follow tool; and while the call ran, the task list the view finds the call's task in.
    assert calls and {call["name"] for call in calls} <= {WATCH, LIST} and calls[-1]["name"] == WATCH
    assert not _off_loopback(seen.requests), _off_loopback(seen.requests)
    # The host enforced the declared CSP: the frame from an undeclared origin was refused (the view links it).
    assert any("Content Security Policy" in line and "frame.png" in line for line in seen.console), seen.console
    assert await view.locator("#frames a").get_attribute("href") == undeclared_frame

    # The host switches to dark: the view follows.
    assert not _is_dark(await _background(view))
    await seen.page.evaluate("() => window.setTheme('dark')")
    await seen.page.wait_for_timeout(300)
    assert _is_dark(await _background(view))
    await seen.shot("3-playing-dark")


async def test_failed_task_shows_klings_reason_in_dark_theme(host: tuple[Host, SandboxServer]) -> None:
    seen, sandbox = host
    sandbox.state.inject(fail_tasks=1)
    await seen.start({"prompt": PROMPT, "start_image_url": "https://example.com/boat.png"}, theme="dark")

    result = await seen.tool_result()
    assert result["structuredContent"]["result"]["done"] is False

    failure = seen.view.locator("#failure")
    await failure.wait_for(state="visible", timeout=30_000)
    assert "Failure to pass the risk control system" in (await failure.text_content() or "")
    assert await seen.view.locator("video").is_hidden()
    assert _is_dark(await _background(seen.view))
    await seen.shot("4-failed-dark")


async def _video_plays(seen: Host) -> None:
    video = seen.view.locator("video")
    await video.wait_for(state="visible", timeout=30_000)
    await video.evaluate(LOADED_DATA)


async def test_a_host_without_the_apps_extension_follows_with_get_and_finishes(tmp_path: Path) -> None:
    # It renders _meta.ui.resourceUri but never declared MCP Apps: the server refuses (and does not list) the
    # app-only follow tool. The view must fall back to kling_get_video_task, not loop on "Retrying…".
    async with hosting(tmp_path, declare_apps=False) as (seen, _sandbox):
        await seen.start({"prompt": PROMPT, "start_image_url": "https://example.com/boat.png"})
        result = await seen.tool_result()
        assert result["structuredContent"]["result"]["done"] is False
        await _video_plays(seen)
        assert await seen.view.locator("#badge").text_content() == "Video ready"
        assert "Retrying" not in (await seen.view.locator("#expected").text_content() or "")
        calls = [call["name"] for call in await seen.page.evaluate("() => window.host.appCalls")]
        assert GET in calls and calls[-1] == GET, calls
        await seen.shot("5-no-apps-extension")


async def test_the_view_shows_progress_and_what_was_used_during_the_call(tmp_path: Path) -> None:
    # A call that waits up to 12 s on a 10 s task: the host shows the view nothing of the server's progress until
    # it returns, so the view finds the call's task itself. Model, mode and duration were left to the defaults, and
    # the start frame is an inline image: a thumbnail.
    async with hosting(tmp_path, max_wait="12") as (seen, _sandbox):
        inline = "data:image/png;base64," + base64.b64encode(EXAMPLE_PNG.read_bytes()).decode()
        await seen.start({"prompt": PROMPT, "start_image_url": inline})
        view = seen.view
        await view.locator("#expected").filter(has_text="usually ready after").wait_for(timeout=10_000)
        assert await seen.page.evaluate("() => window.host.toolResult") is None, "the call had already returned"
        assert await view.locator("#badge").text_content() in ("Queued at Kling", "Generating the video")
        assert await view.locator("#bar-fill").evaluate("(bar) => parseFloat(bar.style.width) > 0")
        chips = await view.locator("#chips li").all_text_contents()
        assert chips == ["kling-v2-master", "std", "5 s"], chips
        thumbnail = view.locator("#frames img")
        assert (await thumbnail.get_attribute("src") or "").startswith("data:image/png;base64,")
        assert await thumbnail.evaluate("(img) => img.complete && img.naturalWidth > 0")
        assert await view.locator("#frames a").count() == 0
        await seen.shot("6-progress-during-the-call")
        await seen.tool_result()
        await _video_plays(seen)


async def test_invalid_input_says_nothing_was_sent_and_a_non_https_video_is_never_used(
    host: tuple[Host, SandboxServer],
) -> None:
    seen, _sandbox = host
    await seen.start({"prompt": PROMPT, "start_image_url": "https://example.com/boat.png", "mode": "turbo"})
    result = await seen.tool_result()
    assert result.get("isError") is True
    failure = seen.view.locator("#failure")
    await failure.wait_for(state="visible", timeout=10_000)
    assert "No request was sent to Kling" in (await failure.text_content() or "")
    assert await seen.view.locator("#badge").text_content() == "Nothing was sent"
    await seen.shot("7-nothing-sent")
    # Defence in depth: a result naming a javascript: video (the server drops those) is neither played nor linked.
    await seen.page.evaluate(
        """() => window.host.bridge.sendToolResult({content: [], structuredContent: {result: {
            task_id: "t-1", status: "succeed", done: true, next_step: "", videos: [{url: "javascript:alert(1)"}]}}})"""
    )
    await seen.view.locator("#badge").filter(has_text="Video ready").wait_for(timeout=5_000)
    assert await seen.view.locator("video").is_hidden()
    assert await seen.view.locator("video").get_attribute("src") is None
    assert await seen.view.locator("a[href^='javascript:' i]").count() == 0
