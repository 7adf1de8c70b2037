"""Following one task for a view that shows it: its state, what was asked, and when it is expected to finish.

A view (the MCP Apps player) keeps asking until the task is done. Each answer says when to ask next, taken from the
same learned schedule the server's own waits use, so a view never queries Kling faster than the server would.
"""

from __future__ import annotations

import base64
import functools
import io
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import anyio.to_thread
from pydantic import BaseModel, Field

from kling_mcp.service.describe.owners import Viewer
from kling_mcp.service.describe.task_results import VideoTaskResult, from_task, made_from
from kling_mcp.service.failures import TaskFailedError
from kling_mcp.service.journal import JournalEntry
from kling_mcp.service.prepare.images import MAX_IMAGE_BYTES, ImagePolicy

if TYPE_CHECKING:  # the service (and the HTTP stack under it) loads on the first call, not at start-up
    from kling_mcp.service.video import VideoService


class TaskRequest(BaseModel):
    """What the task was asked to make, as the journal recorded it."""

    prompt: str | None = Field(None, description="The prompt sent to Kling.")
    model: str | None = Field(None, description="Kling model.")
    mode: str | None = Field(None, description="std or pro.")
    duration: int | None = Field(None, description="Requested length in seconds.")
    start_image: str | None = Field(None, description="Start frame: its URL, or a note for an inline image.")
    end_image: str | None = Field(None, description="End frame: its URL, or a note for an inline image.")
    start_thumbnail: str | None = Field(
        None, description="A small JPEG of a start frame read from the server's disk, as a data URI (for the view)."
    )


class FollowState(BaseModel):
    """One answer to a view following a task."""

    result: VideoTaskResult
    request: TaskRequest | None = Field(None, description="What was asked (absent for tasks this server never saw).")
    elapsed_seconds: float | None = Field(None, description="Seconds since Kling created the task.")
    expected_seconds: tuple[float, float] | None = Field(
        None, description="When tasks of this model, mode and duration usually finish (seconds after creation)."
    )
    next_check_seconds: float | None = Field(
        None, description="Ask again after this many seconds (the learned poll schedule); null once done."
    )


THUMBNAIL_PIXELS = 160
# The journal's note for a frame read from the server's disk: `file:///path (png, 1,234 bytes)`.
_JOURNALED_FILE = re.compile(r"^file://(?P<path>/.+) \([^()]*\)$")


def _request(entry: JournalEntry | None, policy: ImagePolicy) -> TaskRequest | None:
    if entry is None or not entry.model:
        return None
    return TaskRequest(
        prompt=entry.prompt or None,
        model=entry.model,
        mode=entry.mode,
        duration=entry.duration,
        start_image=entry.start_image,
        end_image=entry.end_image,
        start_thumbnail=thumbnail_of(entry.start_image, policy),
    )


def thumbnail_of(reference: str | None, policy: ImagePolicy) -> str | None:
    """A small JPEG data URI of a frame the task read from the server's disk, while the policy still lets it be read.

    The view cannot load a path on the server; an inline image it shows from the call's own arguments.
    """
    match = _JOURNALED_FILE.match(reference or "")
    if match is None:
        return None
    path = Path(match["path"])
    try:
        if not policy.permits(path):
            return None
        stat = path.stat()
    except (OSError, RuntimeError):
        return None
    if stat.st_size > MAX_IMAGE_BYTES:
        return None
    return _thumbnail(str(path), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=64)
def _thumbnail(path: str, _mtime_ns: int, _size: int) -> str | None:
    from PIL import Image  # imported lazily, as for the image checks

    try:
        with Image.open(path) as image:
            image.thumbnail((THUMBNAIL_PIXELS, THUMBNAIL_PIXELS))
            out = io.BytesIO()
            image.convert("RGB").save(out, "JPEG", quality=70)
    except Exception:  # a file that changed or no longer reads: no thumbnail, nothing else lost
        return None
    return "data:image/jpeg;base64," + base64.b64encode(out.getvalue()).decode("ascii")


async def follow(
    service: VideoService,
    any_id: str,
    wait_seconds: float,
    *,
    viewer: Viewer | None = None,
    wall_clock: Callable[[], float] = time.time,
) -> FollowState:
    """The task's state after waiting up to `wait_seconds` for it; a failed task is a state here, not an error.

    `viewer` sees only the tasks it may (as a task look-up's caller would): any other id is not found.
    """
    try:
        result = (await service.get(any_id, wait_seconds, viewer=viewer)).result
    except TaskFailedError as exc:
        entry = await anyio.to_thread.run_sync(service.journal.get, any_id)
        result = from_task(exc.task, entry.model if entry and entry.model else None)
        result.made_from = made_from(entry.settings) if entry else None  # as a look-up shows it
    entry = await anyio.to_thread.run_sync(service.journal.get, any_id)
    request = await anyio.to_thread.run_sync(_request, entry, service.options.image_policy)
    profile = (entry.model, entry.mode, entry.duration) if entry is not None and entry.model else None
    plan = service.options.schedule.plan(await service.waiter.history(profile))
    created_ms = entry.kling_created_ms if entry else None
    age = max(0.0, wall_clock() - created_ms / 1000) if created_ms else None
    next_check = None
    if not result.done:
        next_check = round(plan.next_delay(age or 0.0)[0], 2)
    return FollowState(
        result=result,
        request=request,
        elapsed_seconds=round(age, 1) if age is not None else None,
        expected_seconds=(round(plan.window[0], 1), round(plan.window[1], 1)) if plan.window else None,
        next_check_seconds=next_check,
    )
