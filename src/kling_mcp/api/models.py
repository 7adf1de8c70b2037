"""Kling's wire format: the response envelope, the task object, and the create request bodies."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

TaskStatus = Literal["submitted", "processing", "succeed", "failed"]
"""A Kling task's life: `submitted` → `processing` → `succeed` | `failed`."""

TERMINAL_STATUSES: frozenset[str] = frozenset({"succeed", "failed"})

Endpoint = Literal["image2video", "text2video", "omni-video"]
"""The Kling video endpoint that serves a model; the path is `/v1/videos/{endpoint}`."""


class _Wire(BaseModel):
    # Kling adds fields over time; keep what we do not know instead of failing.
    model_config = ConfigDict(extra="allow")


class Envelope(_Wire):
    """Every Kling answer: `code == 0` is success."""

    code: int
    message: str = ""
    request_id: str | None = None
    data: Any = None


class Video(_Wire):
    """One generated video file (Kling deletes it after 30 days)."""

    id: str | None = None
    url: str
    watermark_url: str | None = None
    duration: str | None = None


class TaskResult(_Wire):
    videos: list[Video] = Field(default_factory=list)


class TaskInfo(_Wire):
    external_task_id: str | None = None


class Task(_Wire):
    """Kling's task object, as returned by create, query and list."""

    task_id: str
    task_status: TaskStatus
    task_status_msg: str | None = None
    task_info: TaskInfo | None = None
    task_result: TaskResult | None = None
    final_unit_deduction: str | None = None
    created_at: int | None = None
    updated_at: int | None = None

    @property
    def external_task_id(self) -> str | None:
        """The caller's own id for the task, when one was sent."""
        return self.task_info.external_task_id if self.task_info else None

    @property
    def videos(self) -> list[Video]:
        """The finished videos (empty until the task succeeds)."""
        return self.task_result.videos if self.task_result else []

    @property
    def is_terminal(self) -> bool:
        """True once the task has succeeded or failed."""
        return self.task_status in TERMINAL_STATUSES


class Image2VideoBody(BaseModel):
    """`POST /v1/videos/image2video`. `model_name` is always sent: Kling's own default (kling-v1) differs from ours."""

    model_name: str
    image: str | None = None
    image_tail: str | None = None
    prompt: str | None = None
    negative_prompt: str | None = None
    cfg_scale: float | None = None
    mode: str | None = None
    duration: str | None = None
    sound: Literal["on", "off"] | None = None
    camera_control: dict[str, Any] | None = None
    callback_url: str | None = None
    external_task_id: str | None = None


class OmniImage(BaseModel):
    image_url: str
    type: Literal["first_frame", "end_frame"]


class OmniVideoBody(BaseModel):
    """`POST /v1/videos/omni-video` (kling-v3-omni, kling-video-o1); its shape is less certain than image2video's."""

    model_name: str
    prompt: str | None = None
    negative_prompt: str | None = None
    image_list: list[OmniImage] = Field(default_factory=list)
    mode: str | None = None
    duration: str | None = None
    sound: Literal["on", "off"] | None = None
    aspect_ratio: str | None = None
    callback_url: str | None = None
    external_task_id: str | None = None


class Text2VideoBody(BaseModel):
    """`POST /v1/videos/text2video`: image2video's fields without images, and `aspect_ratio` (16:9, 9:16, 1:1)."""

    model_name: str
    prompt: str
    negative_prompt: str | None = None
    cfg_scale: float | None = None
    mode: str | None = None
    aspect_ratio: str | None = None
    duration: str | None = None
    sound: Literal["on", "off"] | None = None
    camera_control: dict[str, Any] | None = None
    callback_url: str | None = None
    external_task_id: str | None = None


CreateBody = Image2VideoBody | Text2VideoBody | OmniVideoBody
