"""Logging for the whole process: configured once in the CLI, always to stderr, secrets redacted."""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from urllib.parse import urlsplit

from kling_mcp.redaction import Redactor, redact

__all__ = ["RedactingFilter", "Tally", "configure_logging", "redact", "urls_by_host_only"]


class Tally:
    """How many times this process did one thing, counted where it is done and read by tests and benchmarks: how
    often the capability table is asked (`api/capabilities.TABLE_LOOKUPS`), how many local files a request reads
    (`service/prepare/images.FILE_READS`). Never logged, never reset: a reader takes the difference."""

    def __init__(self) -> None:
        self._count = 0
        self._lock = threading.Lock()  # requests are prepared in worker threads

    def add(self) -> None:
        """Count one more."""
        with self._lock:
            self._count += 1

    @property
    def count(self) -> int:
        """How many so far."""
        return self._count


_HOST_ONLY: ContextVar[bool] = ContextVar("kling_mcp_urls_by_host_only", default=False)


@contextmanager
def urls_by_host_only() -> Iterator[None]:
    """Within this block (this task), a URL in a log record's arguments is logged as scheme and host only.

    For requests to a caller's own URL, whose path or query may hold its secret: httpx logs every request line
    with the full URL (at INFO, which the CLI shows with --log-level DEBUG).
    """
    token = _HOST_ONLY.set(True)
    try:
        yield
    finally:
        _HOST_ONLY.reset(token)


def _host_only(arg: object) -> object:
    text = str(arg) if not isinstance(arg, int | float) else ""
    if not text.startswith(("http://", "https://")):
        return arg
    parts = urlsplit(text)
    return f"{parts.scheme}://{parts.hostname or '?'}"


class RedactingFilter(logging.Filter):
    """Rewrites each record's message with secrets removed."""

    def __init__(self, secrets: tuple[str, ...] = ()) -> None:
        super().__init__()
        self._redactor = Redactor(secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        if _HOST_ONLY.get() and isinstance(record.args, tuple):
            record.args = tuple(_host_only(arg) for arg in record.args)
        message = record.getMessage()
        cleaned = self._redactor.text(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = self._redactor.text(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


def configure_logging(level: str = "INFO", secrets: tuple[str, ...] = ()) -> None:
    """Send every log record to stderr (stdout belongs to the MCP protocol in stdio mode)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter(secrets))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # httpx logs every request line at INFO; keep that for --log-level DEBUG only.
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if level == "DEBUG" else logging.WARNING)
