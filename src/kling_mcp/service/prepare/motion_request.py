"""The motion-control tool's input: a character image, a reference video whose motion it copies, and Kling's knobs.

Field names are Kling's (`image_url`, `video_url`, `character_orientation`, `keep_original_sound`). Kling's
motion-control endpoint takes the reference video as a URL only (docs/kling-api.md: no base64, no upload), so an
inline video is refused here; a local file is judged when the request is prepared (`reference_video.py`: this
server lends it to Kling at a public URL, or refuses it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal
from urllib.parse import urlparse

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

from kling_mcp.api.capabilities import MOTION_DEFAULT_MODEL, MOTION_ENDPOINTS, models_of
from kling_mcp.config import blank_to_none
from kling_mcp.service.failures import InvalidInputError
from kling_mcp.service.prepare.fields import (
    DEFAULT_TIMEOUT_SECONDS,
    MAX_PROMPT_CHARS,
    MAX_URL_CHARS,
    CallbackUrl,
    Mode,
    Timeout,
    _safe_text,
    _visible,
    unsafe_character,
)
from kling_mcp.service.prepare.images import local_path

if TYPE_CHECKING:
    MotionModelName = str
else:  # an enum of the table's models for the motion-control endpoint, in the published schema
    MotionModelName = Literal[models_of(MOTION_ENDPOINTS)]

_VIDEO_RULE = (
    "must be an http(s) URL Kling can fetch (an mp4 or mov video, 3 s or longer), or a local mp4/mov file (a path "
    "or file:// URL) the server can lend Kling: Kling's motion-control endpoint takes no uploaded or inline video, "
    "so base64 or a data: URI cannot be sent"
)


def _video_url(value: Any) -> Any:
    value = blank_to_none(value)
    if not isinstance(value, str):
        return value  # None (refused as required) or a non-string the str type refuses with its own message
    value = value.strip()
    try:
        local = local_path("video_url", value)
    except InvalidInputError as exc:
        raise PydanticCustomError("video_url", exc.detail) from exc
    if local is not None:  # whether it may be read and lent is judged when the request is prepared
        if bad := unsafe_character(value):
            raise PydanticCustomError("video_url", f"must not contain {bad}")
        return value
    parsed = urlparse(value)
    if parsed.scheme.lower() not in ("http", "https") or not parsed.hostname:
        raise PydanticCustomError("video_url", f"{_VIDEO_RULE}; got {value[:80]!r}")
    if len(value) > MAX_URL_CHARS:
        raise PydanticCustomError("video_url", f"must be at most {MAX_URL_CHARS:,} characters; got {len(value):,}")
    if any(ch.isspace() for ch in value):
        raise PydanticCustomError("video_url", f"must not contain whitespace (write spaces as %20); got {value[:80]!r}")
    if bad := unsafe_character(value):
        raise PydanticCustomError("video_url", f"must not contain {bad}")
    return parsed.scheme.lower() + value[len(parsed.scheme) :]


OptionalPrompt = Annotated[
    Annotated[str, Field(max_length=MAX_PROMPT_CHARS)] | None,
    BeforeValidator(blank_to_none),
    _visible("prompt"),
    _safe_text("prompt"),
]


def _yes_or_no(value: Any) -> Any:
    """true/false (as the other tools' switches), or Kling's own "yes"/"no"; never 1 or "on"."""
    if value is None or isinstance(value, bool):
        return value
    if value in ("true", "yes"):
        return True
    if value in ("false", "no"):
        return False
    raise PydanticCustomError("not_a_boolean", "must be true or false (Kling's yes or no)")


# The longest reference video Kling takes, by character_orientation (docs/kling-api.md): the output is as long.
LONGEST_REFERENCE_SECONDS = {"image": 10, "video": 30}


class MotionRequest(BaseModel):
    """Arguments of the motion-control tool; each field is a top-level tool parameter."""

    model_config = ConfigDict(extra="forbid")

    image_url: Annotated[str, BeforeValidator(blank_to_none)] = Field(
        description="The character to animate: an http(s) URL Kling can fetch, a data:image/...;base64 URI, bare "
        "base64, or a local file path / file:// URL (stdio only, or inside the server's configured roots). jpg/jpeg "
        "or png, at most 10 MB, each side at least 300 px, aspect ratio between 1:2.5 and 2.5:1."
    )
    video_url: Annotated[str, BeforeValidator(_video_url)] = Field(
        description="The reference video whose motion the character copies: an http(s) URL Kling can fetch (mp4 or "
        "mov), or a local file path / file:// URL (inside the server's file roots; only on a server with a public URL, "
        "which lends the file to Kling). At least 3 s; at most 10 s with character_orientation 'image', 30 s with "
        "'video'. The generated video is as long as this one."
    )
    character_orientation: Literal["image", "video"] = Field(
        description="Which way the character faces: 'image' keeps the image's orientation (reference up to 10 s), "
        "'video' follows the reference video's (up to 30 s)."
    )
    prompt: OptionalPrompt = Field(
        None, description="Optional description of the scene, style or details to add. At most 2500 characters."
    )
    keep_original_sound: Annotated[bool | None, BeforeValidator(_yes_or_no)] = Field(
        None,
        description="Keep the reference video's sound in the result: true or false (sent as yes/no). Kling's "
        "default when left out.",
    )
    model: MotionModelName = Field(
        MOTION_DEFAULT_MODEL, description="Kling model to use: kling-v2-6 (default) or kling-v3."
    )
    mode: Mode = "std"
    timeout: Timeout = None
    callback_url: CallbackUrl = None

    @property
    def effective_duration(self) -> None:
        """None: the video is as long as the reference video, which only Kling measures."""
        return None

    @property
    def longest_seconds(self) -> int:
        """The longest video this request can make: the longest reference Kling takes for its orientation (the
        price of a length only Kling measures, a URL's, is estimated at this, so an estimate errs high, never low)."""
        return LONGEST_REFERENCE_SECONDS[self.character_orientation]

    @property
    def effective_timeout(self) -> float:
        """The caller's timeout, or the spec's default of 300 s."""
        return self.timeout if self.timeout is not None else DEFAULT_TIMEOUT_SECONDS

    @property
    def carries_inline_images(self) -> bool:
        """True when the image travels inside the request body (base64), not as a URL Kling fetches."""
        return not self.image_url.strip().lower().startswith(("http://", "https://"))
