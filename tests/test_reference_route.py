"""The route Kling fetches a lent reference video at: only live tokens, only the lent file, GET/HEAD, ranges.

The real route handler and the real registry in a Starlette app, over real HTTP semantics (httpx's ASGI transport);
the registry's clock is a test's, so expiry takes no waiting.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Route

from kling_mcp.http.callback_route import REFERENCE_METHODS, REFERENCE_ROUTE, reference_endpoint
from kling_mcp.service.prepare.reference_video import LEND_SECONDS, LentFiles
from tests.clocks import HandClock
from tests.video_files import write_video

pytestmark = pytest.mark.anyio

PUBLIC = "https://mcp.example.com"


@pytest.fixture
def clock() -> HandClock:
    return HandClock()


@pytest.fixture
def files(clock: HandClock) -> LentFiles:
    return LentFiles(PUBLIC + "/", clock=clock)


@pytest.fixture
async def http(files: LentFiles) -> AsyncIterator[httpx.AsyncClient]:
    app = Starlette(routes=[Route(REFERENCE_ROUTE, reference_endpoint(lambda: files), methods=REFERENCE_METHODS)])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=PUBLIC) as client:
        yield client


def _lend(files: LentFiles, path: Path, content_type: str = "video/mp4") -> str:
    return files.lend(path.resolve(), content_type, os.stat(path))


def _path(url: str) -> str:
    return urlsplit(url).path


async def test_a_lent_file_is_served_with_its_type_and_byte_ranges(
    files: LentFiles, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    video = write_video(tmp_path / "dance.mov", 7.5)
    url = _lend(files, video, "video/quicktime")
    assert url.startswith(PUBLIC + "/kling/reference/") and len(url.rsplit("/", 1)[1]) >= 43  # 32 random bytes
    whole = await http.get(_path(url))
    assert whole.status_code == 200 and whole.content == video.read_bytes()
    assert whole.headers["content-type"] == "video/quicktime" and whole.headers["cache-control"] == "no-store"
    head = await http.head(_path(url))
    assert head.status_code == 200 and head.content == b"" and head.headers["content-length"] == str(len(whole.content))
    part = await http.get(_path(url), headers={"Range": "bytes=4-11"})
    assert part.status_code == 206 and part.content == video.read_bytes()[4:12]
    assert (await http.post(_path(url))).status_code == 405


async def test_the_same_unchanged_file_keeps_one_address_and_another_file_gets_its_own(
    files: LentFiles, tmp_path: Path
) -> None:
    first, other = write_video(tmp_path / "a.mp4", 5), write_video(tmp_path / "b.mp4", 5)
    assert _lend(files, first) == _lend(files, first)  # asked, then sent: one task's body names one address
    assert _lend(files, other) != _lend(files, first)


@pytest.mark.parametrize(
    "path",
    [
        "/kling/reference/not-a-token-anyone-was-given-0123456789abcdefgh",
        "/kling/reference/",
        "/kling/reference/..%2F..%2Fetc%2Fpasswd",
        "/kling/reference",
    ],
)
async def test_unknown_tokens_and_paths_get_a_bare_404(
    files: LentFiles, http: httpx.AsyncClient, tmp_path: Path, path: str
) -> None:
    lent = write_video(tmp_path / "dance.mp4", 5)
    _lend(files, lent)  # a file is lent: no other token and no path reaches it
    answer = await http.get(path)
    assert answer.status_code == 404 and answer.content in (b"", b"Not Found")


async def test_an_expired_token_gets_404(
    files: LentFiles, http: httpx.AsyncClient, clock: HandClock, tmp_path: Path
) -> None:
    url = _lend(files, write_video(tmp_path / "dance.mp4", 5))
    clock.now += LEND_SECONDS - 1
    assert (await http.get(_path(url))).status_code == 200
    clock.now += 1
    assert (await http.get(_path(url))).status_code == 404
    assert files.find(url.rsplit("/", 1)[1]) is None


async def test_a_file_changed_or_swapped_since_it_was_lent_is_not_served(
    files: LentFiles, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    video = write_video(tmp_path / "dance.mp4", 5)
    url = _lend(files, video)
    video.write_bytes(video.read_bytes() + b"more")
    assert (await http.get(_path(url))).status_code == 404
    secret = tmp_path / "secret.txt"
    secret.write_text("not for Kling")
    swapped = write_video(tmp_path / "swap.mp4", 5)
    url = _lend(files, swapped)
    swapped.unlink()
    swapped.symlink_to(secret)
    answer = await http.get(_path(url))
    assert answer.status_code == 404 and b"not for Kling" not in answer.content


async def test_without_a_registry_yet_every_token_gets_404() -> None:
    app = Starlette(routes=[Route(REFERENCE_ROUTE, reference_endpoint(lambda: None), methods=REFERENCE_METHODS)])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=PUBLIC) as client:
        assert (await client.get("/kling/reference/anything-at-all-0123456789")).status_code == 404
