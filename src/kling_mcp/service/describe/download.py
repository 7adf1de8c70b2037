"""Saving finished videos on the server's disk: streamed, size-bounded, written atomically.

Kling deletes its copy of a video after 30 days. Saving is opt-in, and it never turns a finished (paid) task into an
error: when a download fails the reason is put on the video (`download_error`) and its URL is returned as usual.
"""

from __future__ import annotations

import logging
import os
import re
import uuid
from pathlib import Path

import anyio
import anyio.to_thread
import httpx

from kling_mcp.config import DEFAULT_DOWNLOAD_MAX_BYTES
from kling_mcp.service.describe.task_results import VideoFile, VideoTaskResult

logger = logging.getLogger(__name__)

# One video may take this long to download in all; a slower one is abandoned (its URL still works).
DOWNLOAD_TIMEOUT_SECONDS = 60.0
CHUNK_BYTES = 256 * 1024
_UNSAFE_CHARS = re.compile(r"[^A-Za-z0-9_-]+")


class DownloadError(Exception):
    """A video could not be saved; the message says why in plain words."""


def file_name(task_id: str, index: int = 0) -> str:
    """`kling-<task_id>.mp4` for a task's first video, `kling-<task_id>-<n>.mp4` for any further one."""
    safe = _UNSAFE_CHARS.sub("_", task_id).strip("_") or "task"
    return f"kling-{safe}.mp4" if index == 0 else f"kling-{safe}-{index + 1}.mp4"


def _content_length(response: httpx.Response) -> int | None:
    try:
        return int(response.headers["content-length"])
    except (KeyError, ValueError):
        return None


class VideoDownloader:
    """Downloads videos with the server's shared HTTP client into one folder."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        directory: Path,
        *,
        max_bytes: int = DEFAULT_DOWNLOAD_MAX_BYTES,
        timeout: float = DOWNLOAD_TIMEOUT_SECONDS,
    ) -> None:
        self._http = http
        self.directory = directory
        self.max_bytes = max_bytes
        self.timeout = timeout

    async def save(self, result: VideoTaskResult, time_limit: float | None = None) -> VideoTaskResult:
        """The result with each video's `local_path` set, or its `download_error` when it could not be saved.

        `time_limit` bounds each download further (the tool call's remaining time, so the result is not late).
        """
        if result.status != "succeed" or not result.videos:
            return result
        name = result.task_id or result.external_task_id or "task"
        videos: list[VideoFile] = []
        for index, video in enumerate(result.videos):
            target = self.directory / file_name(name, index)
            try:
                # Files appear only complete (atomic rename), so one already there is an earlier call's download.
                if not await anyio.to_thread.run_sync(target.is_file):
                    size = await self.download(video.url, target, time_limit)
                    logger.info("saved video of task %s to %s (%d bytes)", name, target, size)
                videos.append(video.model_copy(update={"local_path": str(target), "download_error": None}))
            except DownloadError as exc:
                logger.warning("could not save video of task %s from %s: %s", name, video.url, exc)
                videos.append(video.model_copy(update={"local_path": None, "download_error": str(exc)}))
        update: dict[str, object] = {"videos": videos}
        if all(v.local_path for v in videos):
            update["next_step"] = (
                "Show the video URL and the saved file (local_path, on the server's disk) to the user; the saved copy "
                "stays after Kling deletes its own after 30 days."
            )
        return result.model_copy(update=update)

    async def download(self, url: str, target: Path, time_limit: float | None = None) -> int:
        """Stream `url` into `target` (temp file, size checks, then an atomic rename); returns the size in bytes."""
        limit = self.timeout if time_limit is None else min(self.timeout, time_limit)
        try:
            with anyio.fail_after(limit):
                return await self._stream(url, target)
        except TimeoutError as exc:
            raise DownloadError(
                f"the download took longer than {limit:.0f} s; look the task up again with download=true to save it "
                "later"
            ) from exc
        except httpx.HTTPError as exc:
            raise DownloadError(f"the download failed ({type(exc).__name__}: {exc})") from exc
        except OSError as exc:
            raise DownloadError(f"cannot write into {self.directory}: {exc.strerror or exc}") from exc

    async def _stream(self, url: str, target: Path) -> int:
        await anyio.to_thread.run_sync(lambda: target.parent.mkdir(parents=True, exist_ok=True))
        # identity: the file's size is then what Content-Length promises (a server may still encode anyway).
        headers = {"Accept-Encoding": "identity"}
        async with self._http.stream("GET", url, headers=headers, follow_redirects=True) as response:
            if response.status_code != 200:
                gone = " (Kling deletes videos after 30 days)" if response.status_code in (403, 404, 410) else ""
                raise DownloadError(f"the video URL answered HTTP {response.status_code}{gone}")
            expected = _content_length(response)
            encoded = response.headers.get("content-encoding", "identity").lower() != "identity"
            if expected is not None and expected > self.max_bytes and not encoded:
                raise DownloadError(
                    f"the video is {expected:,} bytes, more than KLING_MCP_DOWNLOAD_MAX_BYTES ({self.max_bytes:,})"
                )
            temp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.part")
            try:
                received = await self._write(response, temp)
                if expected is not None and not encoded and received != expected:
                    raise DownloadError(f"the download ended after {received:,} of {expected:,} bytes")
                await anyio.to_thread.run_sync(os.replace, temp, target)
            except BaseException:
                temp.unlink(missing_ok=True)  # one syscall; kept synchronous so it also runs when cancelled
                raise
        return received

    async def _write(self, response: httpx.Response, temp: Path) -> int:
        received = 0
        head = b""
        async with await anyio.open_file(temp, "xb") as out:
            async for chunk in response.aiter_bytes(CHUNK_BYTES):
                received += len(chunk)
                if received > self.max_bytes:
                    raise DownloadError(
                        f"the video is larger than KLING_MCP_DOWNLOAD_MAX_BYTES ({self.max_bytes:,} bytes)"
                    )
                if len(head) < 8:
                    head = (head + chunk)[:8]
                await out.write(chunk)
            await out.flush()
            await anyio.to_thread.run_sync(os.fsync, out.wrapped.fileno())
        if head[4:8] != b"ftyp":
            raise DownloadError("the video URL did not return an MP4 file")
        return received
