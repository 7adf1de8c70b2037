"""Call kling-mcp from Python through a real MCP client (stdio), against the built-in sandbox by default.

    python examples/generate_video.py path/to/image.png "the camera slowly pushes in"

Set KLING_ACCESS_KEY / KLING_SECRET_KEY (and unset KLING_MCP_SANDBOX) to use the real Kling API.
"""

from __future__ import annotations

import os
import sys

import anyio
from mcp import Client, StdioServerParameters


async def main(image: str, prompt: str) -> None:
    env = {**os.environ}
    if not env.get("KLING_ACCESS_KEY"):
        env["KLING_MCP_SANDBOX"] = "1"
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
        while not task["done"]:
            result = await client.call_tool("kling_get_video_task", {"task_id": task["task_id"], "wait_seconds": 50})
            task = (result.structured_content or {})["result"]
        for video in task["videos"]:
            print("video:", video["url"])


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    anyio.run(main, sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "gentle motion, the camera pushes in")
