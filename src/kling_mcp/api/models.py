"""Kling's wire format: the response envelope, the task object, and the create request bodies."""

from __future__ import annotations

import typing
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    ValidationError,
    model_validator,
)

from kling_mcp.api.errors import KlingProtocolError

TaskStatus = Literal["submitted", "processing", "succeed", "failed"]
"""A Kling task's life: `submitted` → `processing` → `succeed` | `failed`. Others may appear and are carried through."""

KNOWN_STATUSES: frozenset[str] = frozenset(typing.get_args(TaskStatus))
TERMINAL_STATUSES: frozenset[str] = frozenset({"succeed", "failed"})
NO_STATUS = "unknown"
"""What a task is reported as when Kling's answer carries no readable `task_status`."""

Endpoint = Literal["image2video", "text2video", "omni-video", "motion-control"]
"""The Kling video endpoint that serves a model; the path is `/v1/videos/{endpoint}`."""
ElementEndpoint = Literal["advanced-custom-elements"]
"""Kling's custom elements: made by a task like a video's, at `/v1/general/advanced-custom-elements`."""
TaskEndpoint = Endpoint | ElementEndpoint
"""Any endpoint whose tasks the client creates, queries and lists."""


# Nothing here is needed to list the tools, so pydantic builds these validators on first use rather than at import,
# where every client's launch would pay for them before its first `tools/list` (docs/performance.md).


class _Wire(BaseModel):
    # Kling adds fields over time; keep what we do not know instead of failing. Ids may arrive as numbers.
    model_config = ConfigDict(extra="allow", coerce_numbers_to_str=True, defer_build=True)


class _Body(BaseModel):
    model_config = ConfigDict(defer_build=True)


class Envelope(_Wire):
    """Every Kling answer: `code == 0` is success."""

    code: int
    message: str = ""
    request_id: str | None = None
    data: Any = None


LOOPBACK_MEDIA_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
"""Hosts whose plain-http media is accepted: a Kling sandbox on this machine (Kling itself serves https only)."""


def is_media_url(url: str) -> bool:
    """True for a URL kling-mcp passes on as a video: https with a host, or http on loopback (a sandbox).

    Anything else Kling might send (`javascript:`, `data:`, `file:`, plain http to the internet, spaces or control
    characters) would reach a result, a link and the player: it is treated as no URL at all.
    """
    if any(ord(char) <= 0x20 or char == "\\" for char in url):
        return False
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return False
    if not host:
        return False
    return parts.scheme == "https" or (parts.scheme == "http" and host in LOOPBACK_MEDIA_HOSTS)


class Video(_Wire):
    """One generated video file (Kling deletes it after 30 days)."""

    id: str | None = None
    url: str | None = None  # a video without one is skipped when reported, not a reason to fail the whole task
    watermark_url: str | None = None
    duration: str | None = None

    _refused: list[str] = PrivateAttr(default_factory=list)

    @model_validator(mode="wrap")
    @classmethod
    def _media_urls_only(cls, data: Any, handler: ModelWrapValidatorHandler[Video]) -> Video:
        # A URL that is not https (see `is_media_url`) is dropped here, at the edge, and noted on the task.
        refused: list[str] = []
        if isinstance(data, dict):
            data = dict(data)
            for name in ("url", "watermark_url"):
                value = data.get(name)
                if value is not None and not (isinstance(value, str) and is_media_url(value)):
                    data[name] = None
                    refused.append(name)
        video = handler(data)
        video._refused = refused
        return video


class Element(_Wire):
    """A custom element an element task made (`task_result.elements`)."""

    element_id: str = Field(min_length=1)
    element_name: str | None = None
    element_description: str | None = None
    reference_type: str | None = None


class TaskResult(_Wire):
    videos: list[Video] = Field(default_factory=list)
    elements: list[Element] = Field(default_factory=list)


class TaskInfo(_Wire):
    external_task_id: str | None = None


class Task(_Wire):
    """Kling's task object, as returned by create, query and list."""

    task_id: str = Field(min_length=1)
    task_status: str | None = None  # not TaskStatus: a status Kling adds later must not make the task unreadable
    task_status_msg: str | None = None
    task_info: TaskInfo | None = None
    task_result: TaskResult | None = None
    final_unit_deduction: str | None = None
    created_at: int | None = None
    updated_at: int | None = None

    _ignored: list[str] = PrivateAttr(default_factory=list)

    @property
    def status(self) -> str:
        """Kling's status string as sent, or `unknown` when the answer had none."""
        return self.task_status or NO_STATUS

    @property
    def reader_notes(self) -> list[str]:
        """What the tolerant reader could not use in Kling's answer (an unknown status, unreadable fields)."""
        notes = list(self._ignored)
        for video in self.videos:
            notes.extend(
                f"Kling sent a video {name} that is not an https URL; it was left out" for name in video._refused
            )
        if self.task_status is None:
            notes.append("Kling's answer carried no task_status")
        elif self.task_status not in KNOWN_STATUSES:
            notes.append(f"Kling reported status {self.task_status!r}, which kling-mcp does not know")
        return notes

    @property
    def external_task_id(self) -> str | None:
        """The caller's own id for the task, when one was sent."""
        return self.task_info.external_task_id if self.task_info else None

    @property
    def videos(self) -> list[Video]:
        """The finished videos (empty until the task succeeds)."""
        return self.task_result.videos if self.task_result else []

    @property
    def elements(self) -> list[Element]:
        """The elements an element task made (empty until it succeeds)."""
        return self.task_result.elements if self.task_result else []

    @property
    def is_terminal(self) -> bool:
        """True once the task has succeeded or failed."""
        return self.task_status in TERMINAL_STATUSES


def parse_task(data: object) -> Task:
    """Kling's task object, read tolerantly: only `task_id` is required; a field that does not fit is left out.

    Kling changes its answers over time. A task that cannot be read is a task the caller cannot find, so an
    unexpected status or a malformed optional field is carried along (and noted), never a reason to fail.
    """
    if not isinstance(data, dict):
        raise KlingProtocolError(f"Kling's answer holds no task object (its data is {type(data).__name__})")
    fields = dict(data)
    ignored: list[str] = []
    while True:
        try:
            task = Task.model_validate(fields)
        except ValidationError as exc:
            bad = {str(error["loc"][0]) for error in exc.errors() if error["loc"]}
            if not bad or "task_id" in bad:
                raise KlingProtocolError("Kling's task object has no usable task_id") from None
            for name in sorted(bad):
                fields.pop(name, None)
                ignored.append(f"Kling's field {name} could not be read and was ignored")
            continue
        task._ignored = ignored
        return task


class Shot(_Body):
    """One shot of a storyboard (`multi_prompt`): its place (from 1), prompt and whole seconds as a string."""

    index: int
    prompt: str
    duration: str


class ElementItem(_Body):
    element_id: str


class VoiceItem(_Body):
    voice_id: str


class _VideoBody(_Body):
    """What every video create body takes (image2video, omni-video, text2video): the model, the prompt, length and
    sound, the Kling 3.0 storyboard, elements and voices, and the callback and our idempotency key."""

    model_name: str
    prompt: str | None = None
    negative_prompt: str | None = None
    mode: str | None = None
    duration: str | None = None
    sound: Literal["on", "off"] | None = None
    multi_shot: bool | None = None
    shot_type: str | None = None
    multi_prompt: list[Shot] | None = None
    element_list: list[ElementItem] | None = None
    voice_list: list[VoiceItem] | None = None
    callback_url: str | None = None
    external_task_id: str | None = None


class Image2VideoBody(_VideoBody):
    """`POST /v1/videos/image2video`. `model_name` is always sent: Kling's own default (kling-v1) differs from ours."""

    image: str | None = None
    image_tail: str | None = None
    cfg_scale: float | None = None
    camera_control: dict[str, Any] | None = None


class OmniImage(_Body):
    image_url: str
    type: Literal["first_frame", "end_frame"]


class OmniVideoBody(_VideoBody):
    """`POST /v1/videos/omni-video` (kling-v3-omni, kling-video-o1); its shape is less certain than image2video's."""

    image_list: list[OmniImage] = Field(default_factory=list)
    aspect_ratio: str | None = None


class Text2VideoBody(_VideoBody):
    """`POST /v1/videos/text2video`: image2video's fields without images, and `aspect_ratio` (16:9, 9:16, 1:1).
    `prompt` may be absent only for a storyboard (its shots carry the prompts)."""

    cfg_scale: float | None = None
    aspect_ratio: str | None = None
    camera_control: dict[str, Any] | None = None


class MotionControlBody(_Body):
    """`POST /v1/videos/motion-control` (kling-v2-6, kling-v3): the image's character moves as the reference video's
    does; the video is as long as the reference. `video_url` is a URL only (Kling takes no inline video)."""

    model_name: str
    image_url: str
    video_url: str
    character_orientation: Literal["image", "video"]
    keep_original_sound: Literal["yes", "no"] | None = None
    mode: str
    prompt: str | None = None
    callback_url: str | None = None
    external_task_id: str | None = None


class ReferImage(_Body):
    image_url: str


class ElementImages(_Body):
    frontal_image: str
    refer_images: list[ReferImage]


class ElementTag(_Body):
    tag_id: str


class ElementCreateBody(_Body):
    """`POST /v1/general/advanced-custom-elements` with `reference_type` `image_refer`: a frontal image and 1-3 more."""

    element_name: str
    element_description: str
    reference_type: Literal["image_refer"] = "image_refer"
    element_image_list: ElementImages
    tag_list: list[ElementTag] | None = None
    callback_url: str | None = None
    external_task_id: str | None = None


CreateBody = Image2VideoBody | Text2VideoBody | OmniVideoBody | MotionControlBody
