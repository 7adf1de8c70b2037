"""The motion tool's reference video: an http(s) URL as is, or a local file this server lends Kling for a while.

Kling's motion-control endpoint takes the reference only as a URL it fetches (docs/kling-api.md). A local file
(a path or `file://` URL, allowed as the start frame's are: `ImagePolicy`) can still be sent when this server has a
public URL (KLING_MCP_PUBLIC_URL, streamable HTTP): the file is registered here under an unguessable token and
served at `{public_url}/kling/reference/{token}` (`http/callback_route.py`) until the registration expires. Its
length is read from its header first (`video_header.py`), so a file Kling would refuse is refused before anything
is sent, and the cost is estimated for its real length.
"""

from __future__ import annotations

import math
import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kling_mcp.service.failures import InvalidInputError
from kling_mcp.service.prepare.images import ImagePolicy, local_path, open_local_file
from kling_mcp.service.prepare.motion_request import LONGEST_REFERENCE_SECONDS
from kling_mcp.service.prepare.video_header import VideoHeader, VideoHeaderError, read_video_header

FIELD = "video_url"
REFERENCE_PATH = "/kling/reference"
# How long Kling may fetch a lent file. Kling fetches the reference when it takes the task; a day covers a task that
# waits in Kling's queue, and bounds how long a leaked address stays good.
LEND_SECONDS = 24 * 3600.0
SHORTEST_REFERENCE_SECONDS = 3  # the shortest reference Kling takes (docs/kling-api.md)
_NO_PUBLIC_URL = (
    "a local file can be sent only when Kling can fetch it from this server, and this server has no public URL; "
    "give an http(s) URL Kling can fetch (e.g. a presigned storage link), or, on a streamable-HTTP server, have the "
    "operator set KLING_MCP_PUBLIC_URL so the server lends the file to Kling"
)


@dataclass(frozen=True)
class LentFile:
    """One file lent to Kling: where it is, what it is, and the identity it had when it was checked."""

    path: Path
    content_type: str
    identity: tuple[int, int, int, int]  # device, inode, size, mtime (ns): a file changed since is not served
    expires: float


def _identity(info: os.stat_result) -> tuple[int, int, int, int]:
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)


class LentFiles:
    """The files this server lends Kling, by token; tokens expire `LEND_SECONDS` after they are made."""

    def __init__(
        self, public_url: str, *, lend_seconds: float = LEND_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.public_url = public_url.rstrip("/")
        self.lend_seconds = lend_seconds
        self._clock = clock
        self._lent: dict[str, LentFile] = {}
        self._lock = threading.Lock()  # tool calls read files in worker threads

    def lend(self, path: Path, content_type: str, info: os.stat_result) -> str:
        """The URL Kling fetches the file at. The same unchanged file keeps its live token (a 2026-07-28 call that
        asks the user runs twice: to ask, then to send), so the address does not change between the two."""
        identity, now = _identity(info), self._clock()
        with self._lock:
            self._forget_expired(now)
            for token, lent in self._lent.items():
                if lent.path == path and lent.identity == identity:
                    return self.url_of(token)
            token = secrets.token_urlsafe(32)
            self._lent[token] = LentFile(path, content_type, identity, now + self.lend_seconds)
        return self.url_of(token)

    def url_of(self, token: str) -> str:
        """The public address of a token."""
        return f"{self.public_url}{REFERENCE_PATH}/{token}"

    def find(self, token: str) -> LentFile | None:
        """The file lent under this token, if the token is live and the file unchanged since it was checked."""
        now = self._clock()
        with self._lock:
            self._forget_expired(now)
            lent = self._lent.get(token)
        if lent is None:
            return None
        try:
            info = os.stat(lent.path, follow_symlinks=False)
        except OSError:
            return None
        return lent if _identity(info) == lent.identity else None

    def _forget_expired(self, now: float) -> None:
        for token in [t for t, lent in self._lent.items() if lent.expires <= now]:
            del self._lent[token]


@dataclass(frozen=True)
class PreparedVideo:
    """What `video_url` sends, and the reference's length when this server measured it (a local file)."""

    url: str
    seconds: float | None = None


def _read_header(path: Path, policy: ImagePolicy) -> tuple[VideoHeader, Path, os.stat_result]:
    fd, resolved = open_local_file(FIELD, path, policy, kind="a video file", instead="an http(s) URL of the video")
    try:
        info = os.fstat(fd)
        with os.fdopen(fd, "rb", closefd=False) as handle:
            header = read_video_header(handle, info.st_size)
    except VideoHeaderError as exc:
        raise InvalidInputError(FIELD, f"file {path} must be an mp4 or mov video: {exc}") from exc
    except OSError as exc:
        raise InvalidInputError(FIELD, f"cannot read {path}: {exc.strerror or exc}") from exc
    finally:
        os.close(fd)
    return header, resolved, info


def _check_length(path: Path, seconds: float, orientation: str) -> None:
    longest = LONGEST_REFERENCE_SECONDS[orientation]
    if seconds < SHORTEST_REFERENCE_SECONDS:
        raise InvalidInputError(
            FIELD, f"the reference video must be at least {SHORTEST_REFERENCE_SECONDS} s long; {path} is {seconds:g} s"
        )
    if seconds > longest:
        raise InvalidInputError(
            FIELD,
            f"the reference video must be at most {longest} s long with character_orientation {orientation!r}"
            f"{' (30 s with video)' if orientation == 'image' else ''}; {path} is {seconds:g} s",
        )


def _checked(
    path: Path, orientation: str, policy: ImagePolicy, lent: LentFiles | None
) -> tuple[VideoHeader, Path, os.stat_result]:
    if lent is None:  # judged before the file system is touched: the answer reveals nothing about the file
        raise InvalidInputError(FIELD, _NO_PUBLIC_URL)
    header, resolved, info = _read_header(path, policy)
    _check_length(path, header.seconds, orientation)
    return header, resolved, info


def prepare_reference_video(value: str, orientation: str, policy: ImagePolicy, lent: LentFiles | None) -> PreparedVideo:
    """The `video_url` to send: an http(s) URL as given, or a checked local file's lent address (no public URL:
    refused). Raises InvalidInputError naming video_url before anything is sent."""
    path = local_path(FIELD, value)
    if path is None:
        return PreparedVideo(value)
    header, resolved, info = _checked(path, orientation, policy, lent)
    if lent is None:  # refused by _checked already; a real check, not an assert that `python -O` drops
        raise InvalidInputError(FIELD, _NO_PUBLIC_URL)
    return PreparedVideo(lent.lend(resolved, header.content_type, info), header.seconds)


def billed_seconds(seconds: float) -> int:
    """The whole seconds a reference of this length is priced at (a part second counts as a second: errs high)."""
    return max(1, math.ceil(seconds - 1e-6))
