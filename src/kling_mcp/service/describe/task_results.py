"""What the tools return: the typed task (structured output) and a short text for people."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, Field, PrivateAttr, WithJsonSchema

from kling_mcp.api.models import TERMINAL_STATUSES, Task, is_media_url

if TYPE_CHECKING:
    from kling_mcp.service.journal import JournalEntry
    from kling_mcp.service.journal.entry import TaskSettings

ResultStatus = Literal[
    "submitted", "processing", "succeed", "failed", "creating", "create_failed", "unknown", "never_created"
]
"""The statuses a task can have: Kling's four and kling-mcp's own (see docs/journal.md)."""

# A generate call's status when the user did not approve the spend: no task, nothing sent (docs/spending.md). Not a
# task's status, so never in the journal (nor a filter of the list tool).
DECLINED = "declined"
# Statuses after which nothing more will happen to the call's task.
DONE_STATUSES = frozenset({"succeed", "failed", "create_failed", "never_created", DECLINED})

VIDEO_RETENTION_NOTE = "Kling deletes generated videos after 30 days: download them if you want to keep them."
SAVED_RETENTION_NOTE = "Kling deletes its copy after 30 days; the saved file stays."


class VideoFile(BaseModel):
    """One generated video."""

    id: str | None = Field(None, description="Kling's video id.")
    url: str = Field(description="Download URL of the MP4 (expires after 30 days).")
    watermark_url: str | None = Field(None, description="URL of the watermarked variant, when Kling makes one.")
    duration: float | None = Field(None, description="Length in seconds.")
    local_path: str | None = Field(
        None, description="Where the server saved the MP4 on its own disk (only when downloading is on)."
    )
    download_error: str | None = Field(
        None, description="Why saving the MP4 on the server failed; the url still works until Kling deletes it."
    )


class StoryboardShot(BaseModel):
    """One shot of the storyboard a task was made from."""

    prompt: str
    duration: int = Field(description="Seconds.")


class MadeFrom(BaseModel):
    """What a task was made from besides its prompt and images, as the journal kept it at the create."""

    shots: list[StoryboardShot] | None = Field(None, description="The storyboard's shots, in order.")
    shot_type: str | None = Field(None, description="customize, or intelligence (Kling cut the shots).")
    reference_video_url: str | None = Field(None, description="Motion control: the video whose motion was copied.")
    character_orientation: str | None = Field(None, description="Motion control: image or video.")
    keep_original_sound: bool | None = Field(None, description="Motion control: the reference's sound kept.")


def made_from(settings: TaskSettings | None) -> MadeFrom | None:
    """The journaled settings as the tools show them (None when the task was made from its prompt and images)."""
    return MadeFrom.model_validate(settings) if settings else None


class VideoTaskResult(BaseModel):
    """A Kling video task as the tools report it."""

    task_id: str | None = Field(description="Kling's task id: the id to look the task up by.")
    external_task_id: str | None = Field(None, description="kling-mcp's own id for the task, also accepted.")
    # `| str`: a status Kling adds later is passed on as it is (with `done` false), not refused.
    status: ResultStatus | str = Field(
        description="submitted → processing → succeed | failed; or kling-mcp's creating, unknown, create_failed, "
        "never_created; or declined (the user did not approve the spend: nothing was sent). Another value is a "
        "status Kling added that kling-mcp does not know yet."
    )
    status_message: str | None = Field(
        None, description="Kling's status message (the reason when failed), and notes on anything unexpected."
    )
    model: str | None = Field(None, description="Kling model that made the video.")
    videos: list[VideoFile] = Field(default_factory=list, description="The finished videos (empty until succeed).")
    created_at: str | None = Field(None, description="When Kling created the task (ISO 8601, UTC).")
    updated_at: str | None = Field(None, description="When Kling last updated the task (ISO 8601, UTC).")
    final_unit_deduction: str | None = Field(
        None, description="What Kling charged for the task, in its units (set once Kling reports it)."
    )
    estimated_units: float | None = Field(
        None,
        description="What kling-mcp estimated the task would cost, in Kling's units, before creating it "
        "(compare final_unit_deduction).",
    )
    estimate_basis: str | None = Field(
        None, description="What the estimate rests on: 'learned from N tasks' of the same settings, or 'prior table'."
    )
    spend_approval: str | None = Field(
        None,
        description="How the spend was approved: 'confirmed by the user', or why nobody was asked "
        "(KLING_MCP_CONFIRM_SPEND, or a client that cannot ask); on 'declined', what the user answered.",
    )
    # Published as a bare object (docs/tool-schemas.md): its shape in each of the five tools' output schemas would
    # cost every `tools/list` 2 kB (tests/test_tool_schemas.py bounds it); the model still types it here.
    made_from: Annotated[MadeFrom | None, WithJsonSchema({"type": ["object", "null"]})] = Field(
        None, description="A storyboard's shots, or a motion task's reference video (look-ups of journaled tasks)."
    )
    done: bool = Field(description="True when the task has finished (succeed or failed).")
    next_step: str = Field(description="What to do next, in one sentence.")
    journal_warning: str | None = Field(
        None, description="Set when the task journal could not record this task: keep the ids shown here."
    )

    # The Kling endpoint that made the task, when known: the server names the tool that creates such tasks in
    # `next_step` (a model told to avoid the wrong tool may call the right one again and pay twice). Not output.
    _endpoint: str | None = PrivateAttr(default=None)

    @property
    def endpoint(self) -> str | None:
        """The Kling endpoint (image2video, text2video, omni-video) that made the task, when known."""
        return self._endpoint

    def made_at(self, endpoint: str | None) -> VideoTaskResult:
        """This result, knowing the endpoint that made its task."""
        self._endpoint = endpoint
        return self


class VideoToolOutput(BaseModel):
    """Structured output of the tools that create a video task or look one up."""

    result: VideoTaskResult


class TaskListOutput(BaseModel):
    """Structured output of the task-listing tool."""

    result: list[VideoTaskResult]


def _iso_ms(ms: int | None) -> str | None:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat().replace("+00:00", "Z") if ms else None


def _seconds(text: str | None) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


NextStep = Literal["show_video", "change_input", "fix_then_create", "create_again", "declined", "look_up", "wait"]
"""What to do next about a task, by kind: show its video; change the input (it failed); fix the stated problem and
create it again (no task exists); create it again (Kling never created it); ask the user (they declined the spend);
look it up (not known whether it exists); wait and look it up (not ready). The kinds the server layer words with its
tools' names are `TOOL_STEPS` (`server/replies.next_step_for`); the service words the others itself."""
TOOL_STEPS: frozenset[NextStep] = frozenset({"fix_then_create", "create_again", "look_up", "wait"})


def next_step_kind(status: str, task_id: str | None) -> NextStep:
    """The kind of next step a task of this status calls for (`task_id` None: Kling's id is not known yet)."""
    if status == "succeed":
        return "show_video"
    if status == "failed":
        return "change_input"
    if status == "create_failed":
        return "fix_then_create"
    if status == "never_created":
        return "create_again"
    if status == DECLINED:
        return "declined"
    return "look_up" if task_id is None else "wait"


def next_step_for(status: str, task_id: str | None, external_task_id: str | None = None) -> str:
    """One sentence telling the caller what to do after seeing this status (with the real id, never a placeholder).

    It names no tool: where the step is to call one (`TOOL_STEPS`), the server layer words it again
    (`server/replies.with_next_step`).
    """
    ref = task_id or external_task_id
    look_up = f"look the task up again with {ref!r}" if ref else "look the task up again"
    again = "do not create it again, which could create and bill a second task."
    match next_step_kind(status, task_id):
        case "show_video":
            return "Show the video URL to the user. " + VIDEO_RETENTION_NOTE
        case "change_input":
            return "The task failed; change the prompt or images before creating a new task."
        case "fix_then_create":
            return (
                "No task exists for this call, so nothing was billed: fix the problem stated with it, then creating "
                "it again is safe."
            )
        case "create_again":
            return "Kling never created this task and nothing was billed: creating it again is safe."
        case "declined":
            return DECLINED_STEP
        case "look_up":
            return f"It is not yet known whether Kling created this task: {look_up}, waiting 30 s; {again}"
        case "wait":
            return f"The video is not ready yet: {look_up} in 30-60 s; {again}"


DECLINED_STEP = (
    "The user did not approve this spend: nothing was sent to Kling and nothing was charged. Do not try again on "
    "your own; ask the user what they want (other settings, or no video)."
)


def declined(model: str, answer: str, estimate_units: float, basis: str) -> VideoTaskResult:
    """The result of a create the user did not approve (`answer`: declined, or cancelled): no task, no charge."""
    return VideoTaskResult(
        task_id=None,
        status=DECLINED,
        status_message=f"The user {answer} the spend; no request was sent to Kling.",
        model=model,
        estimated_units=estimate_units,
        estimate_basis=basis,
        spend_approval=answer,
        done=True,
        next_step=DECLINED_STEP,
    )


def _media_url(url: str | None) -> str | None:
    # The journal's copy of a URL Kling sent: one kling-mcp would not pass on (see `is_media_url`) is no URL.
    return url if url is not None and is_media_url(url) else None


def _notes(message: str | None, notes: list[str], status: str) -> str | None:
    if status not in TERMINAL_STATUSES and notes:
        notes = [*notes, "kling-mcp treats the task as not finished; ask again later"]
    return "; ".join(part for part in (message, *notes) if part) or None


def from_task(
    task: Task, model: str | None, external_task_id: str | None = None, endpoint: str | None = None
) -> VideoTaskResult:
    """The result for a task object freshly read from Kling (read tolerantly: see `Task.reader_notes`)."""
    return VideoTaskResult(
        task_id=task.task_id,
        external_task_id=task.external_task_id or external_task_id,
        status=task.status,
        status_message=_notes(task.task_status_msg, task.reader_notes, task.status),
        model=model,
        videos=[
            VideoFile(id=v.id, url=v.url, watermark_url=v.watermark_url, duration=_seconds(v.duration))
            for v in task.videos
            if v.url
        ],
        created_at=_iso_ms(task.created_at),
        updated_at=_iso_ms(task.updated_at),
        final_unit_deduction=task.final_unit_deduction or None,
        done=task.is_terminal,
        next_step=next_step_for(task.status, task.task_id, task.external_task_id or external_task_id),
    ).made_at(endpoint)


def from_entry(entry: JournalEntry) -> VideoTaskResult:
    """The result for a journal entry (what was last known, without asking Kling)."""
    status = entry.status
    return VideoTaskResult(
        task_id=entry.task_id,
        external_task_id=entry.external_task_id,
        status=status,
        status_message=entry.status_message or None,  # as from Kling (`_notes`): no message is null, never ""
        model=entry.model or None,
        videos=[
            VideoFile(
                id=v.get("id"),
                url=url,
                watermark_url=_media_url(v.get("watermark_url")),
                duration=_seconds(v.get("duration")),
            )
            for v in entry.videos
            if (url := _media_url(v.get("url"))) is not None
        ],
        created_at=_iso_ms(entry.kling_created_ms) or _iso_ms(int(entry.created_at * 1000)),
        updated_at=_iso_ms(entry.kling_updated_ms) or _iso_ms(int(entry.updated_at * 1000)),
        final_unit_deduction=entry.final_unit_deduction,
        estimated_units=entry.estimated_units,
        spend_approval=entry.spend_approval,
        made_from=made_from(entry.settings),
        done=status in DONE_STATUSES,
        next_step=next_step_for(status, entry.task_id, entry.external_task_id),
    ).made_at(entry.endpoint)


def _units(amount: str) -> str:
    """Kling's deduction as words: `1 unit`, `0.5 units`, `2 units` (Kling sends it as text, e.g. "1.000")."""
    try:
        one = float(amount) == 1
    except ValueError:
        one = False
    return f"{amount} unit" if one else f"{amount} units"


def _saved_note(video: VideoFile) -> str:
    if video.local_path:
        return f" (saved to {video.local_path})"
    if video.download_error:
        return f" (not saved: {video.download_error})"
    return ""


def summary(result: VideoTaskResult, *, waited: float | None = None, wait_note: str | None = None) -> str:
    """A short human-readable account of the result, shown beside the structured output."""
    named = (("task_id", result.task_id), ("external_task_id", result.external_task_id))
    ids = [f"{name}={value}" for name, value in named if value]
    head = f"Kling task ({', '.join([*ids, result.model or 'unknown model'])}): {result.status}"
    cost = [f"Cost at Kling: {_units(result.final_unit_deduction)}."] if result.final_unit_deduction else []
    if result.estimated_units is not None:
        basis = f", {result.estimate_basis}" if result.estimate_basis else ""
        cost.insert(0, f"Estimated: {_units(f'{result.estimated_units:g}')}{basis}.")
    journal = [result.journal_warning] if result.journal_warning else []
    if result.status == "succeed":
        urls = "\n".join(f"- {v.url}{_saved_note(v)}" for v in result.videos) or "- (no video URL returned)"
        saved = bool(result.videos) and all(v.local_path for v in result.videos)
        note = SAVED_RETENTION_NOTE if saved else VIDEO_RETENTION_NOTE
        return "\n".join([f"{head}. Video ready:", urls, *cost, *journal, note])
    waited_text = f" after waiting {waited:.0f} s" if waited is not None else ""
    if wait_note:
        waited_text = f"; {wait_note}"
    message = f" ({result.status_message})" if result.status_message else ""
    return " ".join([f"{head}{message}{waited_text}.", result.next_step, *cost, *journal])
