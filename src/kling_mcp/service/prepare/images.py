"""Turn an image argument into what Kling accepts: an http(s) URL as is, anything else as checked bare base64.

The forms, told apart by their text alone (never by looking at the file system, so the answer does not reveal which
files exist): an http(s) URL; a `data:image/...;base64,` URI; a local path or `file://` URL; bare base64.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from kling_mcp.logs import Tally
from kling_mcp.service.failures import InvalidInputError
from kling_mcp.service.prepare.image_check import MAX_IMAGE_BYTES, check_image_bytes, too_large

__all__ = [
    "MAX_IMAGE_BYTES",
    "ImagePolicy",
    "PreparedImage",
    "check_image_bytes",
    "local_path",
    "open_local_file",
    "prepare_image",
]

_DATA_URI = re.compile(r"^data:(?P<mime>[^;,]*)(?P<params>(?:;[^;,]*)*),(?P<data>.*)$", re.DOTALL | re.IGNORECASE)
_OTHER_SCHEME = re.compile(r"^(?P<scheme>[a-z][a-z0-9+.-]*)://", re.IGNORECASE)
_WINDOWS_DRIVE = re.compile(r"^[a-z]:[\\/]", re.IGNORECASE)
_NOT_BASE64 = re.compile(r"[^A-Za-z0-9+/=_-]")
# No real path is this long, and an image this small cannot be 300x300: what is longer is data, never a path.
_MAX_PATH_CHARS = 4096
_FORMS = (
    "an http(s) URL, a data:image/...;base64 URI, bare base64, or a local file path / file:// URL (stdio, or inside "
    "the server's configured roots)"
)


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
        """Whether this path may be read, judged by where it really leads (symlinks and `..` resolved)."""
        if not self.allow_local_files:
            return False
        if not self.roots:
            return True
        real = path.resolve()
        return any(real.is_relative_to(root.resolve()) for root in self.roots)


@dataclass(frozen=True)
class PreparedImage:
    """What is sent to Kling, and what the journal records instead of the bytes."""

    value: str
    reference: str


def describe_inline(kind: str, fmt: str, data: bytes) -> str:
    """What the journal keeps of an inline image: its form, format, size and SHA-256, never the bytes.

    Enough to tell which image a task was made from; nothing re-sends it (a retry after a restart looks the task up
    by its external_task_id, see service/create/intents.py), so the bytes themselves are not needed."""
    return f"<{kind} {fmt}, {len(data):,} bytes, sha256 {hashlib.sha256(data).hexdigest()}>"


def prepare_image(field: str, value: str, policy: ImagePolicy, *, is_start: bool) -> PreparedImage:
    """Validate one image argument and give the form Kling takes."""
    # The argument types (pydantic, the capability table) load with the first call: the server's start builds an
    # ImagePolicy, and must not import them (ARCHITECTURE.md rule 4).
    from kling_mcp.service.prepare.fields import unsafe_character

    value = value.strip()
    if not value:
        raise InvalidInputError(field, f"must not be empty; give {_FORMS}")
    if bad := unsafe_character(value):
        raise InvalidInputError(field, f"must not contain {bad}")
    lower = value[:8].lower()
    if lower.startswith(("http://", "https://")):
        return _url(field, value)
    if lower.startswith("data:"):
        return _data_uri(field, value, is_start=is_start)
    if lower.startswith("file:"):
        return _file(field, _file_url_path(field, value), policy, is_start=is_start)
    if match := _OTHER_SCHEME.match(value):
        raise InvalidInputError(
            field, f"URL scheme {match['scheme']!r} is not supported (got {value[:80]!r}); Kling fetches http(s) URLs"
        )
    if _looks_like_path(value):
        return _file(field, _expand(field, value), policy, is_start=is_start)
    data = _decode_base64(field, value)
    fmt = _check(field, data, is_start=is_start, hint=len(value) < 256)
    return PreparedImage(base64.b64encode(data).decode("ascii"), describe_inline("base64", fmt, data))


def _url(field: str, value: str) -> PreparedImage:
    from kling_mcp.service.prepare.fields import MAX_URL_CHARS

    if len(value) > MAX_URL_CHARS:
        raise InvalidInputError(
            field,
            f"URL must be at most {MAX_URL_CHARS:,} characters; got {len(value):,}. Give a shorter link, or the "
            "image itself as base64",
        )
    parsed = urlparse(value)
    if not parsed.hostname:
        raise InvalidInputError(field, f"URL has no host: {value[:80]!r}")
    if any(ch.isspace() for ch in value):
        raise InvalidInputError(field, f"URL contains whitespace (encode spaces as %20): {value[:80]!r}")
    # Passed through, only the scheme lower-cased (a strict server compares it exactly): Kling fetches it. This
    # server never downloads it, so it cannot check the image; Kling reports a bad one when the task is created.
    value = parsed.scheme.lower() + value[len(parsed.scheme) :]
    return PreparedImage(value, value)


def _data_uri(field: str, value: str, *, is_start: bool) -> PreparedImage:
    match = _DATA_URI.match(value)
    if match is None:
        raise InvalidInputError(field, "data URI has no ',' before its data; expected data:image/png;base64,<data>")
    mime = match["mime"].strip().lower()
    if mime and not mime.startswith("image/"):
        raise InvalidInputError(field, f"data URI must hold an image (image/png or image/jpeg); got {mime!r}")
    if "base64" not in match["params"].lower():
        raise InvalidInputError(field, "data URI must be base64-encoded: data:image/png;base64,<data>")
    if not match["data"].strip():
        raise InvalidInputError(field, "data URI holds no data after 'base64,'")
    # The declared type is only a label: what counts is the bytes (a JPEG labelled image/png is still a JPEG).
    data = _decode_base64(field, match["data"])
    fmt = _check(field, data, is_start=is_start)
    return PreparedImage(base64.b64encode(data).decode("ascii"), describe_inline("data URI", fmt, data))


def _looks_like_path(value: str) -> bool:
    # Base64 never holds '.', '\\', '~' or ':'; it starts with '/' only for JPEG data, always as "/9j/".
    if len(value) > _MAX_PATH_CHARS:
        return False
    if value.startswith("/"):
        return not value.startswith("/9j/")
    return value.startswith("~") or "." in value or "\\" in value or bool(_WINDOWS_DRIVE.match(value))


def _expand(field: str, value: str) -> Path:
    try:
        return Path(value).expanduser()
    except RuntimeError as exc:  # `~user` that does not exist, or no home directory
        raise InvalidInputError(field, f"cannot expand '~' in {value[:80]!r} ({exc}); give an absolute path") from exc


def _file_url_path(field: str, value: str) -> Path:
    parsed = urlparse(value)
    if parsed.netloc not in ("", "localhost"):
        raise InvalidInputError(field, f"file:// URL must name a file on this machine; got host {parsed.netloc!r}")
    if not parsed.path:
        raise InvalidInputError(field, f"file:// URL has no path: {value[:80]!r}")
    return Path(unquote(parsed.path))


def _decode_base64(field: str, text: str) -> bytes:
    # Tolerated because the data is re-encoded before it is sent: line breaks and spaces (as `base64` wraps
    # them), missing '=' padding, and the URL-safe alphabet.
    compact = "".join(text.split())
    if bad := _NOT_BASE64.search(compact):
        raise InvalidInputError(
            field,
            f"is not valid base64: character {bad.group()!r} at position {bad.start()} is not in the base64 "
            f"alphabet. Give {_FORMS}",
        )
    if len(compact) * 3 // 4 > MAX_IMAGE_BYTES + 3:
        raise too_large(field, len(compact) * 3 // 4)
    core = compact.rstrip("=")
    if "=" in core:
        raise InvalidInputError(field, "is not valid base64: '=' padding appears before the end of the data")
    if len(core) % 4 == 1:
        raise InvalidInputError(
            field, f"is not valid base64: {len(core)} characters cannot be complete base64 (the data looks truncated)"
        )
    try:
        return base64.b64decode(core + "=" * (-len(core) % 4), altchars=b"-_" if "-" in core or "_" in core else None)
    except (binascii.Error, ValueError) as exc:
        raise InvalidInputError(field, f"is not valid base64 ({exc})") from exc


def _check(field: str, data: bytes, *, is_start: bool, hint: bool = False) -> str:
    try:
        return check_image_bytes(field, data, is_start=is_start)
    except InvalidInputError as exc:
        if not hint:
            raise
        # A short string of letters and slashes is more likely a path without an extension than data.
        raise InvalidInputError(
            field, f"{exc.detail} (if you meant a local file, give its path with the file extension, or a file:// URL)"
        ) from exc


def local_path(field: str, value: str) -> Path | None:
    """The file a `file://` URL or a path-like argument names (by its text alone), or None for any other form."""
    if value[:5].lower() == "file:":
        return _file_url_path(field, value)
    if _OTHER_SCHEME.match(value) or value[:5].lower() == "data:":
        return None
    return _expand(field, value) if _looks_like_path(value) else None


FILE_READS = Tally()
"""How many local files were opened for reading (`open_local_file`): once per file per generate request."""


def open_local_file(
    field: str,
    path: Path,
    policy: ImagePolicy,
    *,
    kind: str = "an image file",
    instead: str = "an http(s) URL or base64 data",
) -> tuple[int, Path]:
    """Open a local file the policy permits, for reading: (its descriptor, where it really is). The caller closes it.

    The policy is judged before the file system is touched, so nothing outside the roots can be probed; `kind`
    names what the file should be and `instead` the other form to give, in the errors."""
    if not policy.allow_local_files:
        raise InvalidInputError(
            field,
            f"local files are not readable through this server; pass {instead} (the operator can "
            "allow directories with KLING_MCP_FILE_ROOTS)",
        )
    # Where the path leads is judged before whether it exists, so nothing outside the roots can be probed.
    try:
        permitted = policy.permits(path)
    except (OSError, RuntimeError) as exc:
        raise InvalidInputError(field, f"file {path} cannot be resolved") from exc
    if not permitted:
        raise InvalidInputError(field, f"file {path} is outside the directories this server may read")
    resolved = path.resolve()
    try:
        # O_NOFOLLOW: the last component was checked as a regular file, so a symlink swapped in since is refused;
        # O_NONBLOCK: a FIFO swapped in would otherwise block the read forever.
        fd = os.open(resolved, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
        FILE_READS.add()
    except FileNotFoundError as exc:
        raise InvalidInputError(field, f"file not found: {path}") from exc
    except IsADirectoryError as exc:
        raise InvalidInputError(field, f"{path} is a directory, not {kind}") from exc
    except OSError as exc:
        raise InvalidInputError(field, f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise InvalidInputError(field, f"{path} is a directory, not {kind}")
        if not stat.S_ISREG(info.st_mode):
            raise InvalidInputError(field, f"{path} is not a regular file")
    except BaseException:
        os.close(fd)
        raise
    return fd, resolved


def _file(field: str, path: Path, policy: ImagePolicy, *, is_start: bool) -> PreparedImage:
    fd, resolved = open_local_file(field, path, policy)
    try:
        info = os.fstat(fd)
        # Checked before reading, and the read is capped: a huge (or growing) file is never loaded whole.
        if info.st_size > MAX_IMAGE_BYTES:
            raise too_large(field, info.st_size)
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read(MAX_IMAGE_BYTES + 1)
    except OSError as exc:
        raise InvalidInputError(field, f"cannot read {path}: {exc.strerror or exc}") from exc
    finally:
        os.close(fd)
    if len(data) > MAX_IMAGE_BYTES:
        raise too_large(field, len(data))
    fmt = check_image_bytes(field, data, is_start=is_start)
    digest = hashlib.sha256(data).hexdigest()
    return PreparedImage(
        base64.b64encode(data).decode("ascii"), f"file://{resolved} ({fmt}, {len(data):,} bytes, sha256 {digest})"
    )
