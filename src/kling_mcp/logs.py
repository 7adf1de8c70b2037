"""Logging for the whole process: configured once in the CLI, always to stderr, secrets redacted."""

from __future__ import annotations

import logging
import re
import sys

# Bearer tokens, JWTs (three base64url parts) and database passwords (in a URL's user info or a `password=`
# parameter) never reach a log line, whatever logged them.
_SECRET_PATTERNS = (
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"),
    re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+"),
    re.compile(r"(?i)(\w+://[^:/@\s]*:)[^@\s]*(?=@)"),
    re.compile(r"(?i)(password\s*=\s*)('[^']*'|[^\s&]+)"),
)


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Replace tokens and the given secret values with a marker."""
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + "[REDACTED]", text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[REDACTED]")
    return text


class RedactingFilter(logging.Filter):
    """Rewrites each record's message with secrets removed."""

    def __init__(self, secrets: tuple[str, ...] = ()) -> None:
        super().__init__()
        self._secrets = tuple(s for s in secrets if len(s) >= 4)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message, self._secrets)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info), self._secrets)
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
