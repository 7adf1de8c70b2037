"""What the journal holds about one task, and the statuses of ours beside Kling's four."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict

from kling_mcp.api.models import Task

# Statuses of ours besides Kling's four: the create is under way, or its outcome could not be learnt.
CREATING = "creating"
CREATE_FAILED = "create_failed"
UNKNOWN = "unknown"
# The create never reached Kling: Kling still had no task with the external_task_id after the grace period.
NEVER_CREATED = "never_created"


class StoryboardShot(TypedDict):
    """One shot of a storyboard as journaled: its prompt and whole seconds, in the storyboard's order."""

    prompt: str
    duration: int


class TaskSettings(TypedDict, total=False):
    """What a task was made from beyond the columns (JSON in `settings`): a storyboard's shots, a motion reference.

    New keys may be added without a migration; a reader ignores the ones it does not know."""

    shots: list[StoryboardShot]
    shot_type: str
    reference_video_url: str
    character_orientation: Literal["image", "video"]
    keep_original_sound: bool


@dataclass
class JournalEntry:
    """One tool call's task as the journal knows it."""

    external_task_id: str
    endpoint: str
    model: str
    prompt: str
    mode: str | None = None
    duration: int | None = None
    start_image: str | None = None
    end_image: str | None = None
    task_id: str | None = None
    status: str = CREATING
    status_message: str | None = None
    videos: list[dict[str, str | None]] = field(default_factory=list)
    kling_created_ms: int | None = None
    kling_updated_ms: int | None = None
    final_unit_deduction: str | None = None
    created_at: float = 0.0
    updated_at: float = 0.0
    kling_host: str | None = None
    """The Kling API base URL the task was created at (None in entries older than the column)."""
    callback_url: str | None = None  # the caller's own, which kling-mcp relays Kling's callbacks to
    owner: str | None = None  # who made the call (see service.owners); None for entries older than owners
    relayed_status: str | None = None  # the last status relayed to callback_url (see service.callbacks)
    profile: str | None = None  # what decides its price (`service/prepare/estimates.Profile.key`); None before
    estimated_units: float | None = None  # the units estimated before its create (None before estimates)
    spend_approval: str | None = None  # how its spend was approved (`Approval.how`); None before it was kept
    settings: TaskSettings | None = None  # what it was made from beyond the columns; None before it was kept


# The columns of the `tasks` table, in the order `entry_values` gives them.
COLUMNS = (
    "external_task_id",
    "task_id",
    "endpoint",
    "model",
    "mode",
    "duration",
    "prompt",
    "start_image",
    "end_image",
    "status",
    "status_message",
    "videos",
    "kling_created_ms",
    "kling_updated_ms",
    "final_unit_deduction",
    "created_at",
    "updated_at",
    "kling_host",
    "callback_url",
    "owner",
    "relayed_status",
    "profile",
    "estimated_units",
    "spend_approval",
    "settings",
)


def entry_values(entry: JournalEntry) -> tuple[object, ...]:
    """An entry as one row of `tasks`, in `COLUMNS` order (videos and settings as JSON text)."""
    values = {name: getattr(entry, name) for name in COLUMNS}
    values["videos"] = json.dumps(entry.videos)
    values["settings"] = json.dumps(entry.settings) if entry.settings else None
    return tuple(values[name] for name in COLUMNS)


def entry_from_row(row: Mapping[str, Any]) -> JournalEntry:
    """A row of `tasks` (a mapping of column to value) as an entry."""
    values = dict(row)
    values["videos"] = json.loads(values["videos"] or "[]")
    values["settings"] = json.loads(values["settings"]) if values.get("settings") else None
    return JournalEntry(**values)


def videos_json(task: Task) -> str:
    """A task's videos as the JSON text the journal stores."""
    return json.dumps(
        [{"id": v.id, "url": v.url, "watermark_url": v.watermark_url, "duration": v.duration} for v in task.videos]
    )
