"""Tiny MP4/MOV files for the reference-video tests: the real sample video, and files built box by box.

The built files are what the header readers look at (`ftyp`, `moov`/`mvhd`, `mdat`), laid out as real encoders
do: `moov` before the media (fast start) or after it (a camera's file), `mvhd` version 0 (32-bit duration) or 1
(64-bit), a 64-bit box size. The numbers are written by hand here, not by the code under test.
"""

from __future__ import annotations

import struct
from importlib import resources
from pathlib import Path

SAMPLE_MP4 = Path(str(resources.files("kling_mcp.assets").joinpath("sample.mp4")))  # a real 2 s H.264 video


def box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def large_box(kind: bytes, payload: bytes) -> bytes:
    """A box with a 64-bit size (size field 1), as files over 4 GB write their mdat."""
    return struct.pack(">I4sQ", 1, kind, 16 + len(payload)) + payload


def mvhd(timescale: int, duration: int, version: int = 0) -> bytes:
    times = struct.pack(">II", 0, 0) if version == 0 else struct.pack(">QQ", 0, 0)
    length = struct.pack(">I", duration) if version == 0 else struct.pack(">Q", duration)
    rest = bytes(80)  # rate, volume, matrix, pre-defined, next track id: not read
    return box(b"mvhd", bytes([version, 0, 0, 0]) + times + struct.pack(">I", timescale) + length + rest)


def video(
    timescale: int,
    duration: int,
    *,
    version: int = 0,
    moov_last: bool = False,
    brand: bytes | None = b"isom",
    large_mdat: bool = False,
) -> bytes:
    """A file of ftyp (unless `brand` is None), moov with its mvhd, and some media data, in the order asked."""
    ftyp = box(b"ftyp", brand + struct.pack(">I", 512) + brand + b"mp41") if brand is not None else b""
    moov = box(b"moov", mvhd(timescale, duration, version) + box(b"trak", bytes(24)))
    mdat = (large_box if large_mdat else box)(b"mdat", bytes(range(256)) * 8)
    return ftyp + (mdat + moov if moov_last else moov + mdat)


def seconds_video(seconds: float, *, version: int = 0, moov_last: bool = False, brand: bytes | None = b"isom") -> bytes:
    """A video `seconds` long at the common 600 units per second (QuickTime's timescale)."""
    return video(600, round(seconds * 600), version=version, moov_last=moov_last, brand=brand)


def write_video(path: Path, seconds: float, *, version: int = 0, moov_last: bool = False) -> Path:
    """Write such a video at `path` (parents made) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(seconds_video(seconds, version=version, moov_last=moov_last))
    return path
