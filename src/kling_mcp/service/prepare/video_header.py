"""A video's container and length, read from its MP4/MOV header: the `ftyp` brand and the `mvhd` box.

An ISO base media file (MP4, and QuickTime's MOV it grew from) is a list of top-level boxes, each a 32-bit size
and a four-letter type (size 1: a 64-bit size follows; size 0: the box runs to the end of the file). The movie
header `mvhd`, inside `moov`, holds a timescale (units per second) and the duration in those units: 32-bit in
version 0, 64-bit in version 1. `moov` may come after the media data (`mdat`), so the top level is walked by
seeking over boxes, never reading the media: a header read costs a few small reads whatever the file's size.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import BinaryIO, Literal

Container = Literal["mp4", "mov"]
CONTENT_TYPES: dict[Container, str] = {"mp4": "video/mp4", "mov": "video/quicktime"}
# Top-level boxes looked at before giving up: a real file has a handful (ftyp, moov, mdat, free, udta...).
MAX_BOXES = 1024
MAX_MOOV_BYTES = 64 * 1024 * 1024  # the header of a long video is at most a few MB; past this it is not a header
_QUICKTIME_BRAND = b"qt  "
# Box types a QuickTime file may open with instead of `ftyp` (old MOV files have none).
_QUICKTIME_TOP = {b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"}


class VideoHeaderError(ValueError):
    """The bytes are not a readable MP4/MOV file; the message says what was found."""


@dataclass(frozen=True)
class VideoHeader:
    """What the header says: the container and the length in seconds."""

    container: Container
    seconds: float

    @property
    def content_type(self) -> str:
        """The media type the file is served with."""
        return CONTENT_TYPES[self.container]


def _box(handle: BinaryIO, offset: int, end: int) -> tuple[bytes, int, int] | None:
    """The box at `offset`: (type, offset of its content, offset after it); None at the end of the file."""
    handle.seek(offset)
    head = handle.read(8)
    if len(head) == 0:
        return None
    if len(head) < 8:
        raise VideoHeaderError(f"the file ends inside a box header at byte {offset}")
    size, kind = struct.unpack(">I4s", head)
    start = offset + 8
    if size == 1:
        large = handle.read(8)
        if len(large) < 8:
            raise VideoHeaderError(f"the file ends inside a box header at byte {offset}")
        (size,) = struct.unpack(">Q", large)
        start += 8
    elif size == 0:
        size = end - offset
    if size < start - offset or offset + size > end:
        raise VideoHeaderError(f"box {kind!r} at byte {offset} has an impossible size {size}")
    return kind, start, offset + size


def _brand(handle: BinaryIO, start: int, stop: int) -> Container:
    handle.seek(start)
    head = handle.read(min(stop - start, 256))
    brands = [head[i : i + 4] for i in range(0, len(head) - 3, 4) if i != 4]  # major, then compatible (not minor)
    return "mov" if brands and brands[0] == _QUICKTIME_BRAND else "mp4"


def _mvhd_seconds(handle: BinaryIO, start: int, stop: int) -> float | None:
    if stop - start > MAX_MOOV_BYTES:
        raise VideoHeaderError(f"its moov box is larger than {MAX_MOOV_BYTES:,} bytes")
    offset = start
    while offset < stop and (box := _box(handle, offset, stop)) is not None:
        kind, content, after = box
        if kind == b"mvhd":
            handle.seek(content)
            data = handle.read(min(after - content, 32))
            if len(data) < 4:
                raise VideoHeaderError("its mvhd box is truncated")
            version = data[0]
            layout = {0: (">II", 12), 1: (">IQ", 20)}.get(version)
            if layout is None:
                raise VideoHeaderError(f"its mvhd box has unknown version {version}")
            fmt, at = layout
            if len(data) < at + struct.calcsize(fmt):
                raise VideoHeaderError("its mvhd box is truncated")
            timescale, duration = struct.unpack_from(fmt, data, at)
            if timescale == 0:
                raise VideoHeaderError("its mvhd box has a timescale of 0")
            return float(duration / timescale)
        offset = after
    return None


def read_video_header(handle: BinaryIO, size: int) -> VideoHeader:
    """The container and length of the MP4/MOV file open in `handle` (`size` bytes long); raises VideoHeaderError."""
    handle.seek(0)
    first = handle.read(8)[4:]
    if not first:
        raise VideoHeaderError("the file is empty or too short to be a video")
    if first != b"ftyp" and first not in _QUICKTIME_TOP:
        raise VideoHeaderError("it is not an MP4 or MOV file (no ftyp box at its start)")
    container: Container = "mov"  # a QuickTime file without ftyp
    offset = 0
    for index in range(MAX_BOXES):
        box = _box(handle, offset, size)
        if box is None:
            break
        kind, content, after = box
        if index == 0 and kind == b"ftyp":
            container = _brand(handle, content, after)
        if kind == b"moov":
            seconds = _mvhd_seconds(handle, content, after)
            if seconds is None:
                raise VideoHeaderError("its moov box holds no mvhd (movie header)")
            return VideoHeader(container, seconds)
        offset = after
    raise VideoHeaderError("it has no moov box (movie header): the file may be incomplete")
