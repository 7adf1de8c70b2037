"""The text tool's input: the image tool's parameters without images, and aspect_ratio as a real field."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

from kling_mcp.api.capabilities import DEFAULT_MODEL, TEXT_ENDPOINTS, models_of
from kling_mcp.service.prepare.fields import (
    CAMERA_CONTROL_HELP,
    AspectRatio,
    CameraControlArgument,
    GenerateAudio,
    NegativePrompt,
    Prompt,
    VideoArguments,
)

if TYPE_CHECKING:
    TextModelName = str
else:  # an enum of the table's models for this tool's endpoints, in the published schema
    TextModelName = Literal[models_of(TEXT_ENDPOINTS)]


class _TextLead(BaseModel):
    """The text tool's leading parameters, listed before the shared ones: what to show, and what to avoid."""

    prompt: Prompt = Field(
        description="What the video shows and how it moves: subject, setting, action, camera, style. At most 2500 "
        "characters."
    )
    negative_prompt: NegativePrompt = None  # the shared field, listed here second


class TextVideoRequest(VideoArguments, _TextLead):
    """Arguments of kling_generate_video_from_text; each field is a top-level tool parameter."""

    model: TextModelName = Field(DEFAULT_MODEL, description="Kling model to use. Default: 'kling-v2-master'.")
    aspect_ratio: AspectRatio = Field("16:9", description="Video aspect ratio: 16:9 (default), 9:16 or 1:1.")
    generate_audio: GenerateAudio = Field(
        None,
        description="Whether to generate audio synchronously. Supported by kling-v3 and kling-v2-6 (pro only). true or "
        "false only.",
    )
    camera_control: CameraControlArgument = Field(
        None, description=CAMERA_CONTROL_HELP + " Supported by kling-v1 at 5 s."
    )

    @property
    def carries_inline_images(self) -> bool:
        """Never: a text request has no images."""
        return False
