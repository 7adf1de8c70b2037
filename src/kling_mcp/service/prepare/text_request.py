"""The text tool's input: the image tool's parameters without images, and aspect_ratio as a real field."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

from kling_mcp.api.capabilities import DEFAULT_MODEL, TEXT_ENDPOINTS, models_of
from kling_mcp.service.prepare.fields import (
    CAMERA_CONTROL_HELP,
    MODELS,
    CameraControlArgument,
    NegativePrompt,
    StoryboardPrompt,
    VideoArguments,
)

if TYPE_CHECKING:
    TextModelName = str
else:  # an enum of the table's models for this tool's endpoints, in the published schema
    TextModelName = Literal[models_of(TEXT_ENDPOINTS)]


class _TextLead(BaseModel):
    """The text tool's leading parameters, listed before the shared ones: what to show, and what to avoid."""

    prompt: StoryboardPrompt = Field(
        description="Subject, setting, motion, camera, style; null or empty with multi_prompt."
    )
    negative_prompt: NegativePrompt = None  # the shared field, listed here second


class TextVideoRequest(VideoArguments, _TextLead):
    """Arguments of the text-to-video tool; each field is a top-level tool parameter."""

    model: TextModelName = Field(DEFAULT_MODEL, description=f"See {MODELS}.")
    camera_control: CameraControlArgument = Field(None, description=CAMERA_CONTROL_HELP)

    @property
    def carries_inline_images(self) -> bool:
        """Never: a text request has no images."""
        return False
