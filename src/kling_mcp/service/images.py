"""Turn an image reference into what Kling accepts: an http(s) URL as is, anything else as checked bare base64."""

from __future__ import annotations

import base64
import binascii
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from kling_mcp.service.errors import InvalidInputError

MAX_IMAGE_BYTES = 10 * 1024 * 1024
MIN_SIDE_PX = 300
MIN_ASPECT, MAX_ASPECT = 1 / 2.5, 2.5
ACCEPTED_FORMATS = {"PNG": "png", "JPEG": "jpeg"}

_DATA_URI = re.compile(r"^data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?P<params>(;[^,;]*)*?);base64,(?P<data>.*)$", re.DOTALL)
_BASE64_CHARS = re.compile(r"^[A-Za-z0-9+/=\s]+$")


@dataclass(frozen=True)
class ImagePolicy:
    """Where local files may be read from: anywhere (stdio), nowhere, or only under these roots (HTTP)."""

    allow_local_files: bool = True
    roots: tuple[Path, ...] = ()

    @classmethod
    def for_roots(cls, roots: Sequence[Path], *, remote: bool) -> ImagePolicy:
        """Only under `roots` when given; otherwise anywhere for a local (stdio) server and nowhere for a remote one."""
        if roots:
            return cls(allow_local_files=True, roots=tuple(root.expanduser().resolve() for root in roots))
        return cls(allow_local_files=not remote)

    def permits(self, path: Path) -> bool:
        """Whether a resolved path may be read."""
        if not self.allow_local_files:
            return False
        if not self.roots:
            return True
        return any(path.is_relative_to(root.resolve()) for root in self.roots)


@dataclass(frozen=True)
class PreparedImage:
    """What is sent to Kling, and what the journal records instead of the bytes."""

    value: str
    reference: str


def _decode_base64(field: str, text: str) -> bytes:
    compact = "".join(text.split())
    if not compact or not _BASE64_CHARS.match(compact):
        raise InvalidInputError(
            field, "must be an http(s) URL, a data:image/...;base64 URI, bare base64, or a local file path"
        )
    if len(compact) * 3 // 4 > MAX_IMAGE_BYTES + 3:
        raise InvalidInputError(field, f"image must be at most 10 MB; got about {len(compact) * 3 // 4:,} bytes")
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidInputError(field, f"is not valid base64 ({exc})") from exc


def check_image_bytes(field: str, data: bytes, *, is_start: bool) -> str:
    """Check format, size, sides and aspect ratio; returns the format name."""
    if len(data) > MAX_IMAGE_BYTES:
        raise InvalidInputError(field, f"image must be at most 10 MB; got {len(data):,} bytes")
    from PIL import Image, UnidentifiedImageError  # imported lazily: start-up does not need it

    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt, (width, height) = img.format or "", img.size
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise InvalidInputError(field, "is not a readable image; Kling accepts jpg/jpeg or png") from exc
    if fmt not in ACCEPTED_FORMATS:
        raise InvalidInputError(field, f"image must be jpg/jpeg or png; got {fmt or 'unknown'}")
    if min(width, height) < MIN_SIDE_PX:
        raise InvalidInputError(
            field, f"each side of the image must be at least {MIN_SIDE_PX} px; got {width}x{height}"
        )
    ratio = width / height
    if is_start and not MIN_ASPECT <= ratio <= MAX_ASPECT:
        raise InvalidInputError(
            field, f"aspect ratio (width/height) must be within 1:2.5 and 2.5:1; got {width}x{height} ({ratio:.2f})"
        )
    return ACCEPTED_FORMATS[fmt]


def _local_path(value: str) -> Path | None:
    # Base64 never holds '.', '\\' or '~', and a JPEG's base64 starts with "/9j/": so a path is told apart by those.
    if value.startswith("file://"):
        return Path(unquote(urlparse(value).path))
    if "." in value or "\\" in value or value.startswith("~"):
        return Path(value).expanduser()
    return None


def prepare_image(field: str, value: str, policy: ImagePolicy, *, is_start: bool) -> PreparedImage:
    """Validate one image argument and give the form Kling takes."""
    value = value.strip()
    if not value:
        raise InvalidInputError(field, "must not be empty")
    scheme = urlparse(value).scheme.lower()
    if scheme in ("http", "https"):
        if not urlparse(value).netloc:
            raise InvalidInputError(field, f"URL has no host: {value[:80]!r}")
        return PreparedImage(value, value)
    if value.startswith("data:"):
        match = _DATA_URI.match(value)
        if match is None:
            raise InvalidInputError(field, "data URI must look like data:image/png;base64,<data>")
        mime = (match.group("mime") or "").lower()
        if mime and not mime.startswith("image/"):
            raise InvalidInputError(field, f"data URI must hold an image; got {mime}")
        data = _decode_base64(field, match.group("data"))
        fmt = check_image_bytes(field, data, is_start=is_start)
        return PreparedImage(base64.b64encode(data).decode("ascii"), f"<data URI {fmt}, {len(data):,} bytes>")
    path = _local_path(value)
    if path is not None:
        return _prepare_file(field, path, policy, is_start=is_start)
    data = _decode_base64(field, value)
    fmt = check_image_bytes(field, data, is_start=is_start)
    compact = "".join(value.split())
    return PreparedImage(compact, f"<base64 {fmt}, {len(data):,} bytes>")


def _prepare_file(field: str, path: Path, policy: ImagePolicy, *, is_start: bool) -> PreparedImage:
    if not policy.allow_local_files:
        raise InvalidInputError(
            field,
            "local files are not readable through this server; pass an http(s) URL or base64 data (the operator can "
            "allow directories with KLING_MCP_FILE_ROOTS)",
        )
    # The roots are checked before existence, so a caller cannot learn which files exist outside them.
    # resolve() follows every symlink, so a link inside a root that points out is judged by its target.
    try:
        loose = path.resolve(strict=False)
    except (OSError, RuntimeError) as exc:
        raise InvalidInputError(field, f"file {path} cannot be resolved") from exc
    if not policy.permits(loose):
        raise InvalidInputError(field, f"file {path} is outside the directories this server may read")
    try:
        resolved = path.resolve(strict=True)
    except (OSError, RuntimeError) as exc:
        raise InvalidInputError(field, f"file not found: {path}") from exc
    if not policy.permits(resolved):
        raise InvalidInputError(field, f"file {path} is outside the directories this server may read")
    if not resolved.is_file():
        raise InvalidInputError(field, f"not a regular file: {path}")
    size = resolved.stat().st_size
    if size > MAX_IMAGE_BYTES:
        raise InvalidInputError(field, f"image must be at most 10 MB; got {size:,} bytes")
    data = resolved.read_bytes()
    fmt = check_image_bytes(field, data, is_start=is_start)
    return PreparedImage(base64.b64encode(data).decode("ascii"), f"file://{resolved} ({fmt}, {len(data):,} bytes)")
