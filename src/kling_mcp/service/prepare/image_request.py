"""The image tool's input: one Pydantic model whose fields are the tool's 13 top-level parameters."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

from kling_mcp.api.capabilities import DEFAULT_MODEL, IMAGE_ENDPOINTS, models_of
from kling_mcp.service.prepare.fields import (
    CAMERA_CONTROL_HELP,
    AspectRatio,
    CameraControlArgument,
    OptionalText,
    Prompt,
    VideoArguments,
)

if TYPE_CHECKING:
    ImageModelName = str
else:  # an enum of the table's models for this tool's endpoints, in the published schema
    ImageModelName = Literal[models_of(IMAGE_ENDPOINTS)]

_IMAGE_HELP = (
    " Accepts an http(s) URL Kling can fetch (passed through), a data:image/png;base64,... URI, bare base64, or a "
    "local file path / file:// URL (stdio only, or inside the server's configured roots). jpg/jpeg or png, at most "
    "10 MB, each side at least 300 px."
)


class _ImageLead(BaseModel):
    """The image tool's leading parameters, listed before the shared ones: what happens, and the frames."""

    prompt: Prompt = Field(
        description="Description of the video motion and content. Describe what should happen in the video, how "
        "objects should move, what transitions to include. At most 2500 characters."
    )
    start_image_url: OptionalText = Field(
        None,
        description="URL of the image to use as the first frame of the video. The video will animate from this image."
        + _IMAGE_HELP
        + " Aspect ratio between 1:2.5 and 2.5:1.",
    )
    end_image_url: OptionalText = Field(
        None,
        description="URL of the image to use as the last frame of the video. The video will animate towards this "
        "image. Only some models/modes support an end frame (e.g. kling-v2-1, kling-v2-5-turbo, kling-v2-6 in "
        "'pro'; kling-v3 in std or pro; not kling-v2-master)." + _IMAGE_HELP,
    )


class VideoRequest(VideoArguments, _ImageLead):
    """Arguments of kling_generate_video_from_image; each field is a top-level tool parameter."""

    model: ImageModelName = Field(
        DEFAULT_MODEL,
        description="Kling model to use. Default: 'kling-v2-master'. kling-v3-omni and kling-video-o1 use Kling's "
        "omni-video endpoint.",
    )
    aspect_ratio: AspectRatio = Field(
        "16:9",
        description="Video aspect ratio. Usually should match your input image ratio. Only the omni models "
        "(kling-v3-omni, kling-video-o1) take it; the image2video models follow the input image's ratio.",
    )
    camera_control: CameraControlArgument = Field(
        None,
        description=CAMERA_CONTROL_HELP + " Supported by kling-v1 and kling-v1-5 (pro) at 5 s; not with an end image.",
    )

    @property
    def carries_inline_images(self) -> bool:
        """True when an image travels inside the request body (base64), not as a URL Kling fetches."""
        images = (self.start_image_url, self.end_image_url)
        return any(i and not i.strip().lower().startswith(("http://", "https://")) for i in images)
