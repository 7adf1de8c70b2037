"""Motion control's reference videos as Kling sees them: fetched, and measured from the file's own header.

Kling fetches a request's `video_url` and the output is as long as that video. The sandbox fetches a URL on
loopback (a server under test lending a local file, or the sandbox's own `/sandbox/reference/<seconds>s.mp4`, served
with a header saying that length) and reads the length from the MP4/MOV `mvhd` box. This is a second small reader
beside `service/prepare/video_header.py` on purpose: the sandbox is an independent oracle and imports nothing of
ours (ARCHITECTURE.md rule 2), so a wrong reading in one is caught by the other. A URL it cannot fetch or read falls
back to the rules in kling3.py (a test's map, the reference path, the default length).
"""

from __future__ import annotations

import ipaddress
import struct
from urllib.parse import urlsplit

import httpx

MAX_FETCH_BYTES = 64 * 1024 * 1024
FETCH_TIMEOUT_SECONDS = 5.0


def _boxes(data: bytes, start: int, end: int) -> list[tuple[bytes, int, int]]:
    """(type, content start, box end) of the boxes in data[start:end]; stops at the first malformed one."""
    found, offset = [], start
    while offset + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, offset)
        header = 8
        if size == 1:
            if offset + 16 > end:
                break
            (size,) = struct.unpack_from(">Q", data, offset + 8)
            header = 16
        elif size == 0:
            size = end - offset
        if size < header or offset + size > end:
            break
        found.append((kind, offset + header, offset + size))
        offset += size
    return found


def mvhd_at(data: bytes) -> tuple[int, int, int] | None:
    """Where the movie header is: (offset of its content, version, timescale), or None."""
    for kind, start, end in _boxes(data, 0, len(data)):
        if kind != b"moov":
            continue
        for inner, content, _ in _boxes(data, start, end):
            if inner == b"mvhd" and content + 4 <= len(data):
                version = data[content]
                timescale_at = content + (12 if version == 0 else 20)
                if version in (0, 1) and timescale_at + 4 <= len(data):
                    return content, version, struct.unpack_from(">I", data, timescale_at)[0]
    return None


def video_seconds(data: bytes) -> float | None:
    """The length an MP4/MOV file's movie header gives, or None when it has none that can be read."""
    found = mvhd_at(data)
    if found is None or found[2] == 0:
        return None
    content, version, timescale = found
    fmt, at = (">I", content + 16) if version == 0 else (">Q", content + 24)
    if at + struct.calcsize(fmt) > len(data):
        return None
    return float(struct.unpack_from(fmt, data, at)[0] / timescale)


def with_seconds(data: bytes, seconds: float) -> bytes:
    """The video with its movie header saying `seconds` (the sandbox's reference videos of any length)."""
    found = mvhd_at(data)
    if found is None:
        return data
    content, version, timescale = found
    fmt, at = (">I", content + 16) if version == 0 else (">Q", content + 24)
    patched = bytearray(data)
    struct.pack_into(fmt, patched, at, round(seconds * timescale))
    return bytes(patched)


def on_loopback(url: str) -> bool:
    """Whether the URL's host is this machine (only such URLs are fetched: the sandbox reaches out nowhere else)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    if parts.hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(parts.hostname).is_loopback
    except ValueError:
        return False


async def fetch_seconds(url: str) -> tuple[int | None, float | None]:
    """Fetch the video as Kling would: (the HTTP status, or None when nothing answered; the length read, or None)."""
    try:
        async with (
            httpx.AsyncClient(timeout=FETCH_TIMEOUT_SECONDS, follow_redirects=False) as client,
            client.stream("GET", url) as response,
        ):
            if response.status_code != 200:
                return response.status_code, None
            data = b""
            async for chunk in response.aiter_bytes():
                data += chunk
                if len(data) > MAX_FETCH_BYTES:
                    return response.status_code, None
            return response.status_code, video_seconds(data)
    except httpx.HTTPError:
        return None, None
