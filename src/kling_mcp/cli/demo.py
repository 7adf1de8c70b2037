"""`kling-mcp demo`: the whole path with no keys: sandbox → server (stdio subprocess) → real MCP client → video."""

from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path

import anyio
from mcp import Client, StdioServerParameters
from mcp_types import CallToolResult

from kling_mcp.cli import printer
from kling_mcp.sandbox.runner import SandboxServer
from kling_mcp.sandbox.state import SandboxConfig

DEMO_PROMPT = "The sun rises slowly over the mountains; clouds drift to the right; gentle camera push-in."


# Kling's status names are not English ("succeed"); a person reads these instead.
STATUS_WORDS = {
    "succeed": "succeeded",
    "failed": "failed",
    "processing": "is still processing",
    "submitted": "is still queued",
}

_say = printer()  # the demo talks to a person on a terminal


async def run_demo(workdir: Path, task_seconds: float, keys_set: bool = False) -> int:
    """Run one generation end to end and print what happens; returns the exit code."""
    config = SandboxConfig(queue_seconds=min(1.0, task_seconds / 3), run_seconds=task_seconds)
    with (
        SandboxServer(config) as sandbox,
        resources.as_file(resources.files("kling_mcp.assets").joinpath("example.png")) as image,
    ):
        _say(f"1. Kling sandbox listening on {sandbox.url} (no keys, no cost)")
        env = {
            **{k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "SYSTEMROOT", "TMPDIR")},
            "KLING_API_BASE_URL": sandbox.url,
            "KLING_ACCESS_KEY": config.access_key,
            "KLING_SECRET_KEY": config.secret_key,
            "KLING_MCP_JOURNAL": str(workdir / "journal.sqlite3"),
            "KLING_MCP_DOWNLOAD_DIR": str(workdir),
            "KLING_MCP_POLL_MIN_INTERVAL": "1",
            "KLING_MCP_LOG_LEVEL": "WARNING",
        }
        params = StdioServerParameters(command=sys.executable, args=["-m", "kling_mcp"], env=env)
        started = time.perf_counter()
        async with Client(params, mode="legacy") as client:
            tools = await client.list_tools()
            _say(
                f"2. kling-mcp server started over stdio in {time.perf_counter() - started:.2f} s; tools: "
                + ", ".join(t.name for t in tools.tools)
            )
            _say(f"3. Calling kling_generate_video_from_image with {image.name} …")

            async def on_progress(progress: float, total: float | None, message: str | None) -> None:
                # The server sends a total only when its journal knows how long such a task usually takes.
                of = f" of ~{total:.0f}" if total and progress < total else ""
                _say(f"   progress {progress:5.1f}{of} s  {message or ''}")

            call_started = time.perf_counter()
            result = await client.call_tool(
                "kling_generate_video_from_image",
                {"prompt": DEMO_PROMPT, "start_image_url": str(image), "duration": 5},
                progress_callback=on_progress,
            )
            elapsed = time.perf_counter() - call_started
        return _report(result, elapsed, keys_set=keys_set)  # while the sandbox still serves the video it names


def _report(result: CallToolResult, elapsed: float, *, keys_set: bool = False) -> int:
    """Tell the person what the tool answered: the task, its videos and where they were saved; the exit code."""
    text = "".join(getattr(block, "text", "") for block in result.content)
    if result.is_error or not result.structured_content:
        _say(f"Demo failed: {text}")
        return 1
    task = result.structured_content["result"]
    status = STATUS_WORDS.get(task["status"], task["status"])
    _say(f"4. Finished in {elapsed:.1f} s: task {task['task_id']} {status}")
    if task.get("estimated_units") is not None:
        charged = task.get("final_unit_deduction")
        _say(
            f"   cost: estimated {task['estimated_units']:g} units ({task.get('estimate_basis')}), "
            + (f"charged {charged} units (sandbox units, no money)" if charged else "not charged yet")
        )
    for video in task["videos"]:
        _say(f"   video: {video['url']} (the sandbox serves it while the demo runs)")
        if video.get("local_path"):
            saved = Path(video["local_path"])
            data = saved.read_bytes()
            kind = "MP4" if data[4:8] == b"ftyp" else "unknown format"
            _say(f"   saved by the server (KLING_MCP_DOWNLOAD_DIR): {saved} ({len(data):,} bytes, {kind})")
        else:
            _say(f"   not saved: {video.get('download_error')}")
    if keys_set:
        _say("Done. Your Kling keys are set: test them with `kling-mcp check`, then add kling-mcp to your MCP client.")
    else:
        _say("Done. Configure KLING_ACCESS_KEY and KLING_SECRET_KEY to generate real videos (see README).")
    return 0


async def _until_interrupted(workdir: Path, task_seconds: float, keys_set: bool) -> int:
    """`run_demo`, ended by Ctrl-C through anyio's own cancellation, then KeyboardInterrupt.

    Left to asyncio's SIGINT handling (a native cancel of the main task), the interrupt could be lost on a busy
    machine: the call went on printing progress for 30 s and more. A cancel scope's cancellation is not lost.
    """
    if sys.platform == "win32":  # no signal receivers there: Python's own KeyboardInterrupt
        return await run_demo(workdir, task_seconds, keys_set)
    interrupted = False
    async with anyio.create_task_group() as group:

        async def watch() -> None:
            nonlocal interrupted
            with anyio.open_signal_receiver(signal.SIGINT) as signals:
                async for _ in signals:
                    interrupted = True
                    group.cancel_scope.cancel()

        group.start_soon(watch)
        code = await run_demo(workdir, task_seconds, keys_set)
        group.cancel_scope.cancel()
    if interrupted:
        raise KeyboardInterrupt
    return code


def main(task_seconds: float = 4.0, *, keys_set: bool = False) -> int:
    """Entry point of `kling-mcp demo`: its folder (journal and video) is kept, so every path it prints stays true.

    Interrupted (Ctrl-C), the demo made no video worth keeping: its folder is removed, and it says so.
    """
    workdir = Path(tempfile.mkdtemp(prefix="kling-demo-"))
    try:
        code = anyio.run(_until_interrupted, workdir, task_seconds, keys_set)
    except KeyboardInterrupt:
        shutil.rmtree(workdir, ignore_errors=True)
        _say(f"Demo interrupted; its temporary folder {workdir} was removed.")
        raise
    _say(f"The demo's video and task journal are in {workdir} (delete the folder when you are done with it).")
    return code
