"""The player shows what a task was made from, in a real browser (Chromium hosting the view with the real AppBridge,
wired to the real server): a storyboard's shots, numbered with their seconds, and a motion task's reference video.
A prompt is user text: it must render as text, never as markup."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.names import MOTION, TEXT
from tests.test_player_browser import Host, hosting

pytestmark = [pytest.mark.slow, pytest.mark.anyio]

HOSTILE = '<img src=x onerror="parent.parent.pwned = 1"><script>parent.parent.pwned = 2</script> the keeper'
LONG = "The lamp turns on and its beam sweeps the bay, " * 10  # 470 characters: more than two lines


async def start(seen: Host, tool: str, args: dict[str, Any]) -> None:
    """Render `tool`'s view in the host page, then call the tool with `args`."""
    await seen.page.evaluate(
        "(options) => window.startHost(options)",
        {
            "toolName": tool,
            "args": args,
            "theme": "light",
            "sandboxUrl": f"http://localhost:{seen.site_port}/sandbox.html",
        },
    )


async def test_a_storyboards_shots_are_numbered_timed_clipped_and_plain_text(tmp_path: Path) -> None:
    shots = [
        {"prompt": "a lighthouse at dusk, wide", "duration": 3},
        {"prompt": HOSTILE, "duration": "4"},  # a string of digits, as some clients send
        {"prompt": LONG.strip(), "duration": 3},
    ]
    async with hosting(tmp_path) as (seen, _sandbox):
        await start(seen, TEXT, {"prompt": "a stormy evening", "model": "kling-v3", "multi_prompt": shots})
        view = seen.view
        items = view.locator("#shots li")
        await items.nth(2).wait_for(timeout=15_000)
        result = await seen.tool_result()
        assert not result.get("isError"), result
        rows = [[await cell.text_content() for cell in await item.locator("span").all()] for item in await items.all()]
        assert rows == [
            ["1", "3 s", "a lighthouse at dusk, wide"],
            ["2", "4 s", HOSTILE],
            ["3", "3 s", LONG.strip()],
        ]
        assert "3 shots" in (await view.locator("#chips").text_content() or "")
        # The hostile prompt is text: no element was made of it, and nothing of it ran.
        assert await view.locator("#shots img, #shots script").count() == 0
        assert await seen.page.evaluate("() => window.pwned") is None
        # The long prompt is clipped to two lines, whole in its title, and whole once clicked.
        long_prompt = items.nth(2).locator(".shot-p")
        assert await long_prompt.get_attribute("title") == LONG.strip()
        clipped = await long_prompt.evaluate("(p) => [p.clientHeight, p.scrollHeight]")
        assert clipped[1] > clipped[0] * 1.5, clipped
        await long_prompt.click()
        opened = await long_prompt.evaluate("(p) => [p.clientHeight, p.scrollHeight]")
        assert opened[0] >= opened[1] and await long_prompt.get_attribute("aria-expanded") == "true", opened
        await seen.shot("8-storyboard")
        assert await seen.page.evaluate("() => window.pwned") is None


async def test_a_motion_tasks_reference_is_a_link_as_journaled_and_nothing_of_it_plays(tmp_path: Path) -> None:
    async with hosting(tmp_path) as (seen, sandbox):
        reference = f"{sandbox.url}/sandbox/reference/4s.mp4"
        credentialed = reference.replace("://", "://dancer:hunter2@")
        args = {
            "image_url": "https://images.example.com/dancer.png",
            "video_url": credentialed,
            "character_orientation": "video",
            "keep_original_sound": True,
        }
        await start(seen, MOTION, args)
        view = seen.view
        result = await seen.tool_result()
        assert not result.get("isError"), result
        # The follow tool's answer carries what the journal kept: the address without its credentials.
        link = view.locator(f"#motion a[href='{reference}']")
        await link.wait_for(timeout=20_000)
        motion = await view.locator("#motion").text_content() or ""
        assert "as in the reference video" in motion and "the reference's sound, kept" in motion
        assert "hunter2" not in await view.locator("body").inner_html()
        # Only the generated video is a video element, and it is muted: the reference is never played here.
        assert await view.locator("video").count() == 1
        assert await view.locator("video").evaluate("(v) => v.muted")
        await seen.shot("9-motion-reference")
