"""The element tool's input: a custom element made from images (Kling's `image_refer` elements).

Field names are Kling's: `element_name`, `element_description`, `frontal_image` and `refer_images` (the two parts of
its `element_image_list`), `tag_list`. Each image takes the forms the generate tools take (URL, base64, a local file
within the server's roots) and the same checks, but no aspect rule (docs/kling-api.md).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from kling_mcp.config import blank_to_none
from kling_mcp.service.prepare.fields import DEFAULT_TIMEOUT_SECONDS, Timeout, _safe_text, _visible, from_json_text

MAX_ELEMENT_NAME = 20
MAX_ELEMENT_DESCRIPTION = 100
TagId = Literal["o_101", "o_102", "o_103", "o_104", "o_105", "o_106", "o_107", "o_108"]


ElementName = Annotated[
    str,
    BeforeValidator(blank_to_none),
    Field(min_length=1, max_length=MAX_ELEMENT_NAME),
    _visible("element_name"),
    _safe_text("element_name"),
]
ElementDescription = Annotated[
    str,
    BeforeValidator(blank_to_none),
    Field(min_length=1, max_length=MAX_ELEMENT_DESCRIPTION),
    _visible("element_description"),
    _safe_text("element_description"),
]
ImageText = Annotated[str, Field(min_length=1)]


class ElementRequest(BaseModel):
    """Arguments of the element-creating tool; each field is a top-level tool parameter."""

    model_config = ConfigDict(extra="forbid")

    element_name: ElementName = Field(description=f"The element's name, at most {MAX_ELEMENT_NAME} characters.")
    element_description: ElementDescription = Field(
        description=f"What the element is (a character, an object), at most {MAX_ELEMENT_DESCRIPTION} characters."
    )
    frontal_image: ImageText = Field(
        description="A front view of the character or object: an http(s) URL Kling can fetch, a data:image/...;base64 "
        "URI, bare base64, or a local file path / file:// URL (stdio only, or inside the server's configured roots). "
        "jpg/jpeg or png, at most 10 MB, each side at least 300 px."
    )
    refer_images: Annotated[list[ImageText], from_json_text(list, '["https://..."]')] = Field(
        min_length=1,
        max_length=3,
        description="1 to 3 more views of the same character or object (other angles), in the same forms.",
    )
    tag_list: Annotated[list[TagId] | None, from_json_text(list, '["o_101"]')] = Field(
        None, description="Optional tag ids among Kling's o_101 ... o_108 (sent as tag_list: [{tag_id}])."
    )
    timeout: Timeout = None

    @property
    def effective_timeout(self) -> float:
        """The caller's timeout, or the default of 300 s (capped by the server's wait cap)."""
        return self.timeout if self.timeout is not None else DEFAULT_TIMEOUT_SECONDS

    @property
    def images(self) -> list[str]:
        """Every image the element is made from, frontal first."""
        return [self.frontal_image, *self.refer_images]
