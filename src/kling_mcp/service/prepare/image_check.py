"""Whether image bytes are what Kling takes: jpg/png by content, ≤ 10 MB, sides ≥ 300 px, start frame 1:2.5…2.5:1."""

from __future__ import annotations

import io
import logging
import warnings
from typing import TYPE_CHECKING

from kling_mcp.service.failures import InvalidInputError

if TYPE_CHECKING:
    from PIL.Image import Image

logger = logging.getLogger(__name__)

MAX_IMAGE_BYTES = 10 * 1024 * 1024
MIN_SIDE_PX = 300
MIN_ASPECT, MAX_ASPECT = 1 / 2.5, 2.5
# Pillow's names for the formats Kling takes. MPO is how Pillow reads the JPEGs many phone cameras write
# (a JPEG with extra pictures appended); it is a JPEG to every decoder Kling might use.
ACCEPTED_FORMATS = {"PNG": "png", "JPEG": "jpeg", "MPO": "jpeg"}


def too_large(field: str, size: int) -> InvalidInputError:
    """The error for an image over Kling's size limit."""
    return InvalidInputError(
        field, f"image must be at most 10 MB ({MAX_IMAGE_BYTES:,} bytes); got {size:,} bytes. Shrink or recompress it"
    )


def _ensure_complete(field: str, img: Image, fmt: str) -> None:
    """Read the whole image, so a cut-off upload or a truncated base64 string is caught here and not by Kling."""
    try:
        if fmt == "PNG":
            img.verify()  # walks every chunk and its checksum without inflating the pixels
        else:
            # Decoding at 1/8 scale still reads every byte of the compressed data, at a fraction of the memory.
            img.draft("RGB", (max(1, img.width // 8), max(1, img.height // 8)))
            img.load()
    except (OSError, SyntaxError, ValueError) as exc:
        raise _corrupt(field, ACCEPTED_FORMATS[fmt], exc) from exc


def check_image_bytes(field: str, data: bytes, *, is_start: bool) -> str:
    """Check format (by content, not by name), completeness, size, sides and aspect ratio; returns the format."""
    if len(data) > MAX_IMAGE_BYTES:
        raise too_large(field, len(data))
    if not data:
        raise InvalidInputError(field, "image data is empty")
    from PIL import Image, UnidentifiedImageError  # imported lazily: start-up does not need it

    try:
        # Only the header is decoded (and the rest at 1/8 scale), so a huge pixel count costs no memory here:
        # Pillow's bomb warning would only be noise. Beyond its hard limit it still raises, handled below.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                fmt, (width, height) = img.format or "", img.size
                if fmt in ACCEPTED_FORMATS:
                    _ensure_complete(field, img, fmt)
    except Image.DecompressionBombError as exc:
        raise InvalidInputError(field, f"image has too many pixels to be a usable frame ({exc})") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        if kind := _signature(data):  # the start of a jpg/png whose rest is missing or damaged
            raise _corrupt(field, kind, exc) from exc
        raise InvalidInputError(
            field, f"is not a jpg/jpeg or png image: the {len(data):,} bytes are not a PNG or JPEG ({_kind_of(data)})"
        ) from exc
    if fmt not in ACCEPTED_FORMATS:
        raise InvalidInputError(field, f"image must be jpg/jpeg or png; got {fmt}. Convert it to png or jpg")
    if min(width, height) < MIN_SIDE_PX:
        raise InvalidInputError(
            field, f"each side of the image must be at least {MIN_SIDE_PX} px; got {width}x{height}. Upscale it"
        )
    ratio = width / height
    if is_start and not MIN_ASPECT <= ratio <= MAX_ASPECT:
        raise InvalidInputError(
            field,
            f"aspect ratio (width/height) must be between 1:2.5 (0.40) and 2.5:1 (2.50); got {width}x{height} "
            f"({ratio:.2f}). Crop it",
        )
    return ACCEPTED_FORMATS[fmt]


def _signature(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    return "jpeg" if data.startswith(b"\xff\xd8\xff") else None


def _corrupt(field: str, kind: str, exc: BaseException) -> InvalidInputError:
    # Pillow's own message can quote bytes of the file (a chunk name, a marker): it stays in the debug log.
    logger.debug("%s: %s data rejected by Pillow: %s", field, kind, exc)
    return InvalidInputError(field, f"the {kind} data is truncated or corrupt; send the complete image file")


def _kind_of(data: bytes) -> str:
    """What the bytes look like instead, in words: never any of the bytes themselves (they may be a secret file)."""
    head = data[:512]
    if b"\x00" in head:
        return "binary data of some other kind"
    try:
        text = head.decode("utf-8").lstrip()
    except UnicodeDecodeError:
        return "binary data of some other kind"
    if text[:1] == "<":
        return "they look like HTML or XML text"
    if text[:1] in ("{", "["):
        return "they look like JSON text"
    return "they look like plain text"
