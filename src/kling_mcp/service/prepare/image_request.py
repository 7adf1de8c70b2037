"""The image tool's input: one Pydantic model whose fields are the tool's 13 top-level parameters."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

from kling_mcp.api.capabilities import DEFAULT_MODEL, IMAGE_ENDPOINTS, models_of
from kling_mcp.service.prepare.fields import (
    CAMERA_CONTROL_HELP,
    MODELS,
    AspectRatio,
    CameraControlArgument,
    OptionalText,
    StoryboardPrompt,
    VideoArguments,
)

if TYPE_CHECKING:
    ImageModelName = str
else:  # an enum of the table's models for this tool's endpoints, in the published schema
    ImageModelName = Literal[models_of(IMAGE_ENDPOINTS)]


class _ImageLead(BaseModel):
    """The image tool's leading parameters, listed before the shared ones: what happens, and the frames."""

    prompt: StoryboardPrompt = Field(description="The motion and content; null or empty with multi_prompt.")
    start_image_url: OptionalText = Field(
        None,
        description="First frame: http(s) URL, data:image/png;base64 URI, base64, or path/file:// (stdio, roots); "
        "jpg/png, max 10 MB, sides min 300 px, 1:2.5-2.5:1.",
    )
    end_image_url: OptionalText = Field(None, description="Last frame; forms as start_image_url.")


class VideoRequest(VideoArguments, _ImageLead):
    """Arguments of the image-to-video tool; each field is a top-level tool parameter."""

    model: ImageModelName = Field(DEFAULT_MODEL, description=f"See {MODELS}.")
    aspect_ratio: AspectRatio = Field("16:9", description="Omni models only.")
    camera_control: CameraControlArgument = Field(None, description=CAMERA_CONTROL_HELP)

    @property
    def carries_inline_images(self) -> bool:
        """True when an image travels inside the request body (base64), not as a URL Kling fetches."""
        images = (self.start_image_url, self.end_image_url)
        return any(i and not i.strip().lower().startswith(("http://", "https://")) for i in images)
