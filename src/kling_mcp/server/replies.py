"""How a video tool call answers: progress while it waits, the videos saved when asked, the structured result."""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from mcp.server.mcpserver import Context
from mcp_types import CallToolResult, ResourceLink, TextContent

from kling_mcp.server.apps import for_caller
from kling_mcp.server.context import app_of
from kling_mcp.server.descriptions import GENERATE_TOOL, GET_TOOL
from kling_mcp.server.tools import creator_of
from kling_mcp.service.describe import task_results as results
from kling_mcp.service.describe.task_results import TaskListOutput, VideoTaskResult, VideoToolOutput, summary

if TYPE_CHECKING:
    from kling_mcp.server.context import AppContext
    from kling_mcp.service.video import Outcome
    from kling_mcp.service.wait.waiting import ProgressFn

logger = logging.getLogger(__name__)

# A download after the wait may use the rest of the caller's time (at most the wait cap plus this grace), and never
# less than the minimum.
DOWNLOAD_GRACE_SECONDS = 8.0
MIN_DOWNLOAD_SECONDS = 5.0
_URL = re.compile(r"https?://", re.IGNORECASE)  # a reference video given as a URL is shown as given


def next_step_for(status: str, task_id: str | None, external_task_id: str | None = None, *, creator: str) -> str:
    """The service's next step for this status, worded with our tools: `creator` is the tool that made the task."""
    ref = task_id or external_task_id
    get_call = f"{GET_TOOL} with task_id={ref!r}" if ref else GET_TOOL
    again = f"do not call {creator} again, which could create and bill a second task."
    match results.next_step_kind(status, task_id):
        case "fix_then_create":
            return (
                "No task exists for this call, so nothing was billed: fix the problem stated with it, then "
                f"calling {creator} again is safe."
            )
        case "create_again":
            return f"Kling never created this task and nothing was billed: calling {creator} again is safe."
        case "look_up":
            return f"It is not yet known whether Kling created this task. Call {get_call} and wait_seconds=30; {again}"
        case "wait":
            return f"The video is not ready yet. Call {get_call} in 30-60 s; {again}"
        case _:  # steps that name no tool: the service's words
            return results.next_step_for(status, task_id, external_task_id)


def with_next_step(result: VideoTaskResult) -> VideoTaskResult:
    """The result whose `next_step` names our tools where it names one ("do not call ... again", "calling ... again
    is safe"), the creator being the tool that made its task: a model warned off the wrong tool might call the right
    one again and pay twice. A task of unknown endpoint (journaled before endpoints were) is the image tool's."""
    if results.next_step_kind(result.status, result.task_id) not in results.TOOL_STEPS:
        return result  # its next step names no tool (and a download may have set it)
    creator = creator_of(result.endpoint) or GENERATE_TOOL
    step = next_step_for(result.status, result.task_id, result.external_task_id, creator=creator)
    return result.model_copy(update={"next_step": step})


def progress_of(ctx: Context) -> ProgressFn:
    """Progress notifications to the calling client; a client that went away does not fail the call."""

    scrub = app_of(ctx).redactor

    async def report(done: float, total: float | None, message: str) -> None:
        try:
            # Notifications do not pass the edge middleware; Kling's status text is scrubbed here instead.
            await ctx.report_progress(round(done, 1), round(total, 1) if total else None, scrub.text(message))
        except Exception:  # the task id is journaled anyway: losing a notification loses nothing
            logger.debug("progress notification not delivered", exc_info=True)

    return report


def download_time_limit(requested: float | None, max_wait: float, waited: float) -> float:
    """Seconds the download may take: what is left of the time the caller gave the call (`requested`, or the wait cap
    when it named none), never more than the cap plus a grace, never less than MIN_DOWNLOAD_SECONDS.

    The caller's own time counts, not the server's cap: `timeout: 8` means an answer in about 8 s, download included.
    """
    allowed = max_wait + DOWNLOAD_GRACE_SECONDS
    if requested is not None:
        allowed = min(allowed, requested)
    return max(MIN_DOWNLOAD_SECONDS, allowed - waited)


async def saved(app: AppContext, outcome: Outcome, download: bool | None, requested: float | None) -> Outcome:
    """The outcome with its videos saved locally when asked to (or, when not said, when the server is set to),
    within what is left of the `requested` seconds the caller gave the call (None: it named none)."""
    wanted = app.auto_download if download is None else download
    if not wanted:
        return outcome
    downloader = (await app.runtime()).downloader
    time_limit = download_time_limit(requested, app.options.max_wait_seconds, outcome.waited)
    return dataclasses.replace(outcome, result=await downloader.save(outcome.result, time_limit))


def video_result(outcome: Outcome, ctx: Context, notes: Sequence[str] = ()) -> CallToolResult:
    """The task as structured output, with a short summary as text for clients that show only text, and a link to
    each video (and saved copy) for clients that offer links; an MCP Apps host is told its player follows the task.
    `notes`: what the caller asked that was not sent (`bodies.unsent_notes`), said after the summary."""
    result = placed_for(for_caller(with_next_step(outcome.result), ctx), ctx)
    remote = ctx.request_context.request is not None
    told = summary(result, waited=outcome.waited, wait_note=outcome.wait_note)
    text = TextContent(type="text", text="\n".join([told, *(f"Note: {note}." for note in notes)]))
    return CallToolResult(
        content=[text, *resource_links(result, saved_copies=not remote)],
        structured_content=VideoToolOutput(result=result).model_dump(mode="json"),
    )


def _task_line(task: VideoTaskResult) -> str:
    ids = task.task_id or f"external_task_id={task.external_task_id}"
    parts = [f"- {ids}: {task.status}", task.model or "", task.created_at or ""]
    line = ", ".join(part for part in parts if part)
    if task.status_message:
        line += f" ({task.status_message[:120]})"
    return line + "".join(f"\n  {video.url}" for video in task.videos)


def placed_for(result: VideoTaskResult, ctx: Context) -> VideoTaskResult:
    """Over HTTP the server's disk is not the caller's: saved copies and local references without our folders."""
    if ctx.request_context.request is None:
        return result
    return relative_paths(result, app_of(ctx).settings.resolved_download_dir())


def task_list_result(listed: list[VideoTaskResult]) -> CallToolResult:
    """The list as structured output, with one short line per task as text (not the same data again as JSON).

    The SDK's default text for a structured result is the whole model as indented JSON: for 20 tasks that doubled
    the answer (about 11 kB of text beside 12.7 kB of structured content) for clients that show or forward both.
    """
    if listed:
        head = f"{len(listed)} task(s) in this server's task journal, newest first (all fields: structured result):"
        text = "\n".join([head, *(_task_line(task) for task in listed)])
    else:
        text = "No tasks in this server's task journal match."
    return CallToolResult(
        content=[TextContent(type="text", text=text)],
        structured_content=TaskListOutput(result=listed).model_dump(mode="json"),
    )


VIDEO_MIME_TYPE = "video/mp4"


def relative_paths(result: VideoTaskResult, folder: Path) -> VideoTaskResult:
    """The result with each saved copy's `local_path` relative to the download folder, and a motion task's local
    reference video by its file's name: a remote caller learns the file's name, never where the server's disk
    keeps it."""
    reference = result.made_from.reference_video_url if result.made_from else None
    if result.made_from and reference and not _URL.match(reference):
        made_from = result.made_from.model_copy(update={"reference_video_url": _file_name(reference)})
        result = result.model_copy(update={"made_from": made_from})
    if not any(video.local_path for video in result.videos):
        return result
    videos = [
        video.model_copy(update={"local_path": _relative(video.local_path, folder)}) if video.local_path else video
        for video in result.videos
    ]
    return result.model_copy(update={"videos": videos})


def _file_name(reference: str) -> str:
    """A local reference's file name, whether given as a path or a `file://` URL."""
    if reference[:5].lower() == "file:":
        return PurePosixPath(unquote(urlsplit(reference).path)).name
    return Path(reference).name


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
