"""The argument types the video tools share: one definition of each rule (prompt, duration, camera_control, ...).

Each is an `Annotated` type carrying its constraints and validators; a tool's model declares the fields it takes in
the order it presents them, and may give a field a description of its own.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any, Literal
from urllib.parse import urlparse

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from kling_mcp.api.capabilities import ASPECT_RATIOS, CAMERA_TYPES
from kling_mcp.config import blank_to_none

MAX_PROMPT_CHARS = 2500
DEFAULT_TIMEOUT_SECONDS = 300.0
MAX_TIMEOUT_SECONDS = 3600.0

CameraType = Literal[CAMERA_TYPES]  # type: ignore[valid-type]
AspectRatio = Literal[ASPECT_RATIOS]  # type: ignore[valid-type]
AXES = ("horizontal", "vertical", "pan", "tilt", "roll", "zoom")

Axis = Annotated[float, Field(ge=-10, le=10)]


def not_a_boolean(what: str) -> BeforeValidator:
    """Refuse true/false where a number is meant: pydantic would quietly read `duration: true` as 1 second."""

    def check(value: Any) -> Any:
        if isinstance(value, bool):
            raise PydanticCustomError("not_a_number", f"must be {what}, not a boolean")
        return value

    return BeforeValidator(check)


class CameraConfig(BaseModel):
    """Axes of a `simple` camera move: exactly one of them non-zero, each in [-10, 10]."""

    model_config = ConfigDict(extra="forbid")

    horizontal: Axis = 0
    vertical: Axis = 0
    pan: Axis = 0
    tilt: Axis = 0
    roll: Axis = 0
    zoom: Axis = 0


class CameraControl(BaseModel):
    """Kling's camera_control object."""

    model_config = ConfigDict(extra="forbid")

    type: CameraType = Field(description="Camera move: simple (set one axis in config) or a preset move.")
    config: CameraConfig | None = Field(None, description="For type 'simple' only: exactly one non-zero axis.")

    @model_validator(mode="after")
    def _config_matches_type(self) -> CameraControl:
        if self.type == "simple":
            if self.config is None:
                raise ValueError("type 'simple' needs a config with exactly one non-zero axis, e.g. {\"zoom\": 5}")
            moving = [axis for axis in AXES if getattr(self.config, axis) != 0]
            if len(moving) != 1:
                raise ValueError(
                    f"type 'simple' needs exactly one non-zero axis among {', '.join(AXES)}; "
                    f"got {len(moving)} ({', '.join(moving) or 'all zero'})"
                )
        elif self.config is not None:
            if any(getattr(self.config, axis) != 0 for axis in AXES):
                raise ValueError(f"type {self.type!r} takes no config; remove it or use type 'simple'")
            # An all-zero config means "none", but Kling wants the field absent for preset moves.
            self.config = None
        return self


def _parse_json_object(value: Any) -> Any:
    """camera_control arrives as a JSON string (the spec) or already as an object (the SDK pre-parses JSON)."""
    if isinstance(value, BaseModel):
        return value
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"camera_control is not valid JSON ({exc.msg} at position {exc.pos}); "
                'expected e.g. {"type": "simple", "config": {"zoom": 5}}'
            ) from exc
    if value is not None and not isinstance(value, dict):
        raise ValueError('camera_control must be a JSON object such as {"type": "simple", "config": {"zoom": 5}}')
    return value


def _http_url(value: Any) -> Any:
    value = blank_to_none(value)
    if not isinstance(value, str):
        return value  # None, or a non-string the str type check refuses with its own message
    value = value.strip()
    parsed = urlparse(value)
    if parsed.scheme.lower() not in ("http", "https") or not parsed.hostname:
        raise ValueError(
            f"callback_url must be an http(s) URL with a host, e.g. https://example.com/hook; got {value[:80]!r}"
        )
    if any(ch.isspace() for ch in value):
        raise ValueError(f"callback_url must not contain whitespace; got {value[:80]!r}")
    # The scheme lower-cased: a strict server (the sandbox is one) compares it exactly.
    return parsed.scheme.lower() + value[len(parsed.scheme) :]


OptionalText = Annotated[str | None, BeforeValidator(blank_to_none)]


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("prompt must not be blank")
    return value


Prompt = Annotated[str, Field(min_length=1, max_length=MAX_PROMPT_CHARS), AfterValidator(_not_blank)]
NegativePrompt = Annotated[
    Annotated[str, Field(max_length=MAX_PROMPT_CHARS)] | None,
    BeforeValidator(blank_to_none),
    Field(description="Things to avoid in the video. At most 2500 characters."),
]
Mode = Annotated[
    Literal["std", "pro"],
    Field(description="Generation mode. 'std' (standard, default, 720p) or 'pro' (higher quality, 1080p)."),
]
# Constraints sit on the number inside `| None`: on the union itself pydantic would not publish them as JSON Schema.
Duration = Annotated[
    Annotated[int, Field(ge=3, le=15)] | None,
    not_a_boolean("a whole number of seconds"),
    Field(
        description="Video duration in seconds. For kling-v3/kling-v3-omni: 3-15 (integer). Other models: 5 or 10. "
        "Default 5.",
    ),
]
GenerateAudio = Annotated[
    bool | None,
    Field(
        description="Whether to generate audio synchronously. Supported by kling-v3, kling-v3-omni, and kling-v2-6 "
        "(pro mode only)."
    ),
]
CfgScale = Annotated[
    Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)] | None,
    not_a_boolean("a number from 0 to 1"),
    Field(
        description="Classifier-free guidance scale, 0 to 1 (Kling's default 0.5). Higher values follow the prompt "
        "more strictly. The kling-v1 family supports it, the v2 models do not; for kling-v3 Kling decides.",
    ),
]
CameraControlArgument = Annotated[
    CameraControl | None,
    BeforeValidator(_parse_json_object, json_schema_input_type=str | CameraControl | None),
]
CAMERA_CONTROL_HELP = (
    'Camera control as JSON string, e.g. {"type": "simple", "config": {"zoom": 5}} (simple: exactly one non-zero '
    'axis of horizontal, vertical, pan, tilt, roll, zoom, each -10..10) or {"type": "forward_up"} (also down_back, '
    "right_turn_forward, left_turn_forward)."
)
Timeout = Annotated[
    Annotated[float, Field(ge=0, le=MAX_TIMEOUT_SECONDS, allow_inf_nan=False)] | None,
    not_a_boolean("a number of seconds"),
    Field(
        description="How long, in seconds, this call may wait for the video. The server waits at most its own cap "
        "per call (default 50 s); left out, timeout is 300, so the cap applies. If the video is not ready in time "
        "the call returns the task id (not an error) and kling_get_video_task fetches it later. 0 returns as soon "
        "as the task is created.",
    ),
]
CallbackUrl = Annotated[
    str | None,
    BeforeValidator(_http_url),
    Field(description="Webhook callback URL for asynchronous notifications (http or https)."),
]


class VideoArguments(BaseModel):
    """What every video tool's arguments share: unknown names refused, and the defaults Kling is sent."""

    model_config = ConfigDict(extra="forbid")

    if TYPE_CHECKING:  # declared by each tool's model, in the order it presents them
        duration: int | None
        timeout: float | None

    @property
    def effective_duration(self) -> int:
        """The duration to send: the caller's, or 5 seconds."""
        return self.duration if self.duration is not None else 5

    @property
    def effective_timeout(self) -> float:
        """The caller's timeout, or the spec's default of 300 s."""
        return self.timeout if self.timeout is not None else DEFAULT_TIMEOUT_SECONDS
