"""`resource_link` content for a task's videos, so any client can offer the MP4 (and the saved copy) directly."""

from __future__ import annotations

from pathlib import Path

from mcp_types import ResourceLink

from kling_mcp.service.describe.task_results import VideoTaskResult

VIDEO_MIME_TYPE = "video/mp4"


def relative_paths(result: VideoTaskResult, folder: Path) -> VideoTaskResult:
    """The result with each saved copy's `local_path` relative to the download folder: a remote caller learns the
    file's name there, never where the server's disk keeps it."""
    if not any(video.local_path for video in result.videos):
        return result
    videos = [
        video.model_copy(update={"local_path": _relative(video.local_path, folder)}) if video.local_path else video
        for video in result.videos
    ]
    return result.model_copy(update={"videos": videos})


def _relative(path: str, folder: Path) -> str:
    try:
        return str(Path(path).relative_to(folder))
    except ValueError:  # not inside the folder (never the case for our own downloads): the name alone
        return Path(path).name


def resource_links(result: VideoTaskResult, *, saved_copies: bool = True) -> list[ResourceLink]:
    """One link per video (Kling's URL), and one per copy the server saved on its disk (a file:// URI) unless
    `saved_copies` is False (a remote caller: the server's disk is not theirs to open)."""
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
        if video.local_path and saved_copies:
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
