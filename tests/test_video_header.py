"""The two MP4/MOV length readers (ours before a send, the sandbox's as Kling's stand-in) on real tiny files."""

from __future__ import annotations

import io

import pytest

from kling_mcp.sandbox.references import video_seconds
from kling_mcp.service.prepare.video_header import VideoHeader, VideoHeaderError, read_video_header
from tests.video_files import SAMPLE_MP4, box, seconds_video, video


def _read(data: bytes) -> VideoHeader:
    return read_video_header(io.BytesIO(data), len(data))


@pytest.mark.parametrize(
    ("data", "container", "seconds"),
    [
        pytest.param(SAMPLE_MP4.read_bytes(), "mp4", 2.0, id="real-sample-h264"),
        pytest.param(video(1000, 7500), "mp4", 7.5, id="v0-moov-first"),
        pytest.param(video(600, 6000, moov_last=True), "mp4", 10.0, id="v0-moov-after-mdat"),
        pytest.param(video(90000, 2_700_000, version=1), "mp4", 30.0, id="v1-64-bit-duration"),
        pytest.param(video(600, 1800, version=1, moov_last=True, large_mdat=True), "mp4", 3.0, id="v1-large-mdat"),
        pytest.param(video(600, 2400, brand=b"qt  "), "mov", 4.0, id="quicktime-brand"),
        pytest.param(video(600, 3000, brand=None), "mov", 5.0, id="quicktime-without-ftyp"),
    ],
)
def test_the_length_and_container_are_read_from_the_header(data: bytes, container: str, seconds: float) -> None:
    header = _read(data)
    assert (header.container, header.seconds) == (container, seconds)
    assert header.content_type == {"mp4": "video/mp4", "mov": "video/quicktime"}[container]
    assert video_seconds(data) == seconds  # the sandbox's own reader agrees


@pytest.mark.parametrize(
    ("data", "words"),
    [
        pytest.param(b"", "empty", id="empty"),
        pytest.param(b"just some text, not a video at all", "not an MP4 or MOV", id="text"),
        pytest.param(b"\x89PNG\r\n\x1a\n" + bytes(64), "not an MP4 or MOV", id="png"),
        pytest.param(box(b"ftyp", b"isom\0\0\2\0isom") + box(b"mdat", bytes(64)), "no moov", id="no-moov"),
        pytest.param(box(b"ftyp", b"isom\0\0\2\0isom") + box(b"moov", box(b"trak", b"")), "no mvhd", id="no-mvhd"),
        pytest.param(
            box(b"ftyp", b"isom\0\0\2\0isom") + box(b"moov", box(b"trak", b"")) + box(b"mdat", bytes(64)),
            "no mvhd",
            id="no-mvhd-before-mdat",
        ),
        pytest.param(video(0, 600), "timescale of 0", id="timescale-0"),
        pytest.param(seconds_video(5)[:40], "impossible size", id="truncated-moov"),
        pytest.param(seconds_video(5)[:28], "ends inside a box header", id="truncated-header"),
    ],
)
def test_what_is_not_a_readable_video_says_why(data: bytes, words: str) -> None:
    with pytest.raises(VideoHeaderError, match=words):
        _read(data)


def test_an_unknown_mvhd_version_is_refused() -> None:
    data = bytearray(video(600, 600))
    data[data.index(b"mvhd") + 4] = 2  # the version byte
    with pytest.raises(VideoHeaderError, match="unknown version 2"):
        _read(bytes(data))
