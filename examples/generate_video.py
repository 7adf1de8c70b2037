"""Call kling-mcp from Python through a real MCP client (stdio), against the built-in sandbox by default.

    python examples/generate_video.py path/to/image.png "the camera slowly pushes in"

Set KLING_ACCESS_KEY / KLING_SECRET_KEY (and unset KLING_MCP_SANDBOX) to use the real Kling API. The server saves
each finished video into your Downloads folder's kling-mcp/ (or KLING_MCP_DOWNLOAD_DIR): Kling deletes its copy after
30 days. Without keys the built-in sandbox makes a sample video, and its task goes into the sandbox's own journal,
never among your real tasks.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import anyio
import platformdirs
from mcp import Client, StdioServerParameters


async def main(image: str, prompt: str) -> None:
    env = {**os.environ}
    if not env.get("KLING_ACCESS_KEY"):
        env["KLING_MCP_SANDBOX"] = "1"
    # Outside the working directory: running the example in a checkout must leave it as it was.
    env.setdefault("KLING_MCP_DOWNLOAD_DIR", str(Path(platformdirs.user_downloads_dir()) / "kling-mcp"))
    params = StdioServerParameters(command=sys.executable, args=["-m", "kling_mcp"], env=env)
    async with Client(params) as client:

        async def progress(done: float, total: float | None, message: str | None) -> None:
            print(f"{done:5.1f}/{total or 0:.0f}s {message or ''}")

        result = await client.call_tool(
            "kling_generate_video_from_image",
            {"prompt": prompt, "start_image_url": image},
            progress_callback=progress,
        )
        if result.is_error:
            print("error:", "".join(getattr(b, "text", "") for b in result.content))
            return
        task = (result.structured_content or {})["result"]
        while not task["done"]:  # the call returned before the video was ready: ask again (no new task, no cost)
            result = await client.call_tool(
                "kling_get_video_task", {"task_id": task["task_id"], "wait_seconds": 50}, progress_callback=progress
            )
            task = (result.structured_content or {})["result"]
        for video in task["videos"]:
            print("video:", video["url"])
            print("saved:", video["local_path"] or f"not saved ({video['download_error']})")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    anyio.run(main, sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "gentle motion, the camera pushes in")
