"""Logs go to stderr, and no bearer token, JWT or secret value survives in them, whatever logged it."""

from __future__ import annotations

import io
import logging
import sys
from collections.abc import Iterator

import httpx
import jwt
import pytest

from kling_mcp.logs import RedactingFilter, configure_logging, redact, urls_by_host_only

SECRET = "kling-secret-key-0123456789abcdef"
TOKEN = jwt.encode({"iss": "access-key", "exp": 2_000_000_000, "nbf": 0}, SECRET, algorithm="HS256")


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """A logger whose records pass the redacting filter into a string buffer."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.addFilter(RedactingFilter((SECRET,)))
    logger = logging.getLogger("tests.redaction")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield stream
    logger.removeHandler(handler)
    logger.propagate = True


@pytest.mark.parametrize(
    "message",
    [
        f"Authorization: Bearer {TOKEN}",
        f"authorization=bearer {TOKEN}",
        f"headers={{'Authorization': 'Bearer {TOKEN}'}}",
        f"token {TOKEN} in a query",  # a bare JWT, without the Bearer word
        f"secret is {SECRET}!",
    ],
)
def test_tokens_jwts_and_secret_values_are_redacted(captured: io.StringIO, message: str) -> None:
    logging.getLogger("tests.redaction").warning(message)
    line = captured.getvalue()
    assert "[REDACTED]" in line
    assert TOKEN not in line and SECRET not in line
    assert "eyJ" not in line


def test_arguments_and_tracebacks_are_redacted_too(captured: io.StringIO) -> None:
    logger = logging.getLogger("tests.redaction")
    logger.info("sending %s with %r", f"Bearer {TOKEN}", {"secret": SECRET})
    try:
        raise RuntimeError(f"request failed: Authorization: Bearer {TOKEN} ({SECRET})")
    except RuntimeError:
        logger.exception("call failed")
    text = captured.getvalue()
    assert "sending Bearer [REDACTED]" in text
    assert "RuntimeError: request failed" in text and "Traceback" in text
    assert TOKEN not in text and SECRET not in text


@pytest.mark.parametrize(
    "text",
    [
        "created Kling task 263259029593143761 (kling-v2-master, image2video)",
        "adopted task kmcp-36807e0aa34f4d86a701d62ba1bbfa3c created by an earlier attempt",
        "saved video to /home/me/Downloads/kling-mcp/kling-263259029593143761.mp4 (12727 bytes)",
    ],
)
def test_ordinary_log_lines_are_left_alone(text: str) -> None:
    assert redact(text, (SECRET, "")) == text


def test_short_secrets_are_not_used_as_patterns() -> None:
    """A short 'secret' would blank out ordinary words; such values are not real keys anyway."""
    record = logging.makeLogRecord({"msg": "a cab, a tab and a crab"})
    RedactingFilter(("ab", "")).filter(record)
    assert record.getMessage() == "a cab, a tab and a crab"


def test_configure_logging_writes_to_stderr_only(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    try:
        configure_logging("DEBUG", secrets=(SECRET,))
        [handler] = root.handlers
        assert isinstance(handler, logging.StreamHandler) and handler.stream is sys.stderr
        logging.getLogger("kling_mcp.test").debug("using %s", SECRET)
        assert logging.getLogger("httpx").level == logging.DEBUG
        configure_logging("INFO")
        assert logging.getLogger("httpx").level == logging.WARNING, "httpx request lines only at DEBUG"
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved_handlers:
            root.addHandler(handler)
        root.setLevel(saved_level)
        logging.getLogger("httpx").setLevel(logging.NOTSET)
        logging.getLogger("httpcore").setLevel(logging.NOTSET)
    out = capsys.readouterr()
    assert out.out == ""
    assert "DEBUG kling_mcp.test: using [REDACTED]" in out.err
    assert SECRET not in out.err


def test_a_url_logged_inside_urls_by_host_only_keeps_its_host_alone(captured: io.StringIO) -> None:
    # As httpx logs a request line: the URL is an httpx.URL argument, with the caller's secret in path and query.
    url = httpx.URL("https://hooks.example.com:8443/T0/B0/s3cr3t?token=users-own")
    logger = logging.getLogger("tests.redaction")
    with urls_by_host_only():
        logger.info('HTTP Request: %s %s "%s %d %s"', "POST", url, "HTTP/1.1", 204, "No Content")
    logger.info("HTTP Request: %s %s", "GET", url)  # outside: as it was
    first, second = captured.getvalue().splitlines()
    assert first == 'INFO HTTP Request: POST https://hooks.example.com "HTTP/1.1 204 No Content"'
    assert second == f"INFO HTTP Request: GET {url}"
