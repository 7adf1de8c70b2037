"""`resource_link` content for a task's videos, so any client can offer the MP4 (and the saved copy) directly."""

from __future__ import annotations

from pathlib import Path

from mcp_types import ResourceLink

from kling_mcp.service.results import VideoTaskResult

VIDEO_MIME_TYPE = "video/mp4"


def resource_links(result: VideoTaskResult) -> list[ResourceLink]:
    """One link per video (Kling's URL), and one per copy the server saved on its disk (a file:// URI)."""
    links: list[ResourceLink] = []
    name = result.task_id or result.external_task_id or "video"
    for index, video in enumerate(result.videos, start=1):
        suffix = f"-{index}" if len(result.videos) > 1 else ""
        links.append(
            ResourceLink(
                type="resource_link",
                uri=video.url,
                name=f"kling-{name}{suffix}.mp4",
                title="Kling video",
                description="The generated video at Kling (deleted by Kling after 30 days).",
                mime_type=VIDEO_MIME_TYPE,
            )
        )
        if video.local_path:
            links.append(
                ResourceLink(
                    type="resource_link",
                    uri=Path(video.local_path).resolve().as_uri(),
                    name=Path(video.local_path).name,
                    title="Saved video",
                    description="The copy saved on the server's disk.",
                    mime_type=VIDEO_MIME_TYPE,
                )
            )
    return links
