"""One scrubber at the edge: no JWT, bearer token or secret key leaves the server, whatever text carries it.

Row 7 of issue #11: Kling's error text echoes the request's Authorization header (a sandbox fault). The live JWT
must not reach the client over stdio, streamable HTTP or in memory, nor `kling-mcp check`'s output. Row 8: an image
path that is not an image is described, never quoted. And the scrubber must not censor our own messages (#17.3).
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

import jwt
import pytest
from hypothesis import given
from hypothesis import strategies as st
from mcp import Client
from mcp.client.stdio import stdio_client

from kling_mcp.config import Settings
from kling_mcp.redaction import _PATTERNS, Redactor, _keep_prefix, redact
from kling_mcp.sandbox.runner import SandboxServer
from tests.conftest import stdio_params, text_of
from tests.http_support import TOKEN, connect, run_server
from tests.test_cli import run_cli

SRC = Path(__file__).resolve().parent.parent / "src" / "kling_mcp"
SECRET = "kling-secret-key-0123456789abcdef"
JWT = jwt.encode({"iss": "access-key", "exp": 2_000_000_000, "nbf": 0}, SECRET, algorithm="HS256")
IMAGE_URL = "https://images.example.com/start.png"

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"Authorization: Bearer {JWT}", "Authorization: Bearer [REDACTED]"),
        (f"{{'Authorization': 'Bearer {JWT}'}}", "{'Authorization': 'Bearer [REDACTED]'}"),
        ("authorization=bearer short", "authorization=bearer [REDACTED]"),
        ("Authorization: Basic dXNlcjpwYXNz", "Authorization: Basic [REDACTED]"),
        ("sent Bearer test-token-0123456789abcdef", "sent Bearer [REDACTED]"),
        (f"token {JWT} in a query", "token [REDACTED] in a query"),
        (f"the key {SECRET}!", "the key [REDACTED]!"),
        ("journal postgresql://kling:s3cret@db:5432/tasks", "journal postgresql://kling:[REDACTED]@db:5432/tasks"),
        ("host=db password=s3cret dbname=tasks", "host=db password=[REDACTED] dbname=tasks"),
        # Our own prose about tokens stays readable (issue #17.3).
        ("bearer token #1 must be at least 16 visible ASCII characters", None),
        ("Authorization is empty", None),
        ("http://127.0.0.1:8000/mcp and postgresql://db.example.com/tasks", None),
        ("Set KLING_MCP_AUTH_TOKEN (a bearer token) first", None),
    ],
)
def test_the_scrubber_removes_credentials_and_only_them(text: str, expected: str | None) -> None:
    assert Redactor([SECRET]).text(text) == (text if expected is None else expected)


def test_structured_values_are_scrubbed_keys_and_all() -> None:
    value = {"result": {"status_message": f"Bearer {JWT}", "items": [SECRET, 3, None]}, SECRET: True}
    assert Redactor([SECRET]).value(value) == {
        "result": {"status_message": "Bearer [REDACTED]", "items": ["[REDACTED]", 3, None]},
        "[REDACTED]": True,
    }


# One credential of each kind a pattern catches (each needing its own literal), in text of any kind around it.
_CREDENTIALS = st.sampled_from(
    [
        JWT, "Bearer abc.def-1234567", "bearer " + "x" * 24, "Authorization: opaque", "AUTHORIZATION='Basic dXNl'",
        "PassWord = hunter22", "postgresql://kling:s3cret@db/tasks", "/kling/callback/kmcp-1/" + "A1b2" * 5,
        "/kling/reference/" + "Zq-_9" * 9,
    ]
)  # fmt: skip


# Latin text with the letters case-blind matching treats specially (dotless ı, dotted İ, long ſ, Kelvin K). An
# explicit alphabet: Hypothesis's default one is worked out from a codec, which takes seconds on a fresh machine.
_ALPHABET = st.characters(min_codepoint=0x20, max_codepoint=0x2FF) | st.sampled_from("ıİſ\u212a\u0307\n\t")


@given(st.text(_ALPHABET, max_size=24), _CREDENTIALS, st.text(_ALPHABET, max_size=24))
def test_the_quick_pre_check_never_skips_a_credential(before: str, credential: str, after: str) -> None:
    # The scrubber skips its patterns for a string without any of their literals; that must never change an answer.
    text = f"{before} {credential} {after}"  # spaced: several patterns start at a word boundary
    every_pattern = text
    for pattern in _PATTERNS:
        every_pattern = pattern.sub(_keep_prefix, every_pattern)
    assert Redactor().text(text) == every_pattern != text


QUOTED_SECRET = 'a"quoted\\secret-value'  # JSON text escapes both its quote and its backslash
_STRINGS = st.text(_ALPHABET, max_size=12) | _CREDENTIALS | st.sampled_from([SECRET, f"x {QUOTED_SECRET} y", "t\\ab\n"])
_JSON = st.recursive(
    st.none() | st.integers() | _STRINGS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_STRINGS, inner, max_size=4),
    max_leaves=12,
)


@given(_JSON, st.sampled_from([[SECRET], [QUOTED_SECRET], []]))
def test_the_quick_pre_check_of_a_whole_answer_never_skips_a_credential(value: object, secrets: list[str]) -> None:
    # A structure whose JSON text holds no credential literal is returned as it is; that must never change an answer.
    redactor = Redactor(secrets)
    assert redactor.value(value) == redactor._walk(value)


def test_short_secret_values_are_not_used() -> None:
    """A 'secret' of a few letters would blank out ordinary words; no real key is that short."""
    assert redact("the task is done", ["task", "is", ""]) == "the task is done"


def _string_constants(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def test_no_message_of_ours_is_censored_by_the_scrubber() -> None:
    """Every string literal in the package (messages, f-string parts, descriptions) passes the scrubber unchanged.

    `bearer token #1 must be ...` once came out as `bearer [REDACTED] #1 must be ...`; any new message the patterns
    would mangle fails here, by file and text.
    """
    scrub = Redactor()
    mangled = [
        f"{path.relative_to(SRC)}: {text!r}"
        for path in sorted(SRC.rglob("*.py"))
        if path.name != "redaction.py"  # the patterns' own source
        for text in _string_constants(path)
        if scrub.text(text) != text
    ]
    assert mangled == []


def _assert_scrubbed(text: str, sandbox: SandboxServer) -> None:
    """The text shows the echo was there and removed: no live JWT, no secret key."""
    sent = [r.authorization for r in sandbox.state.requests if r.authorization]
    assert sent, "the fault needs a signed request"
    assert "[REDACTED]" in text, text
    for header in sent:
        assert header.removeprefix("Bearer ") not in text
    assert "eyJ" not in text
    assert sandbox.state.config.secret_key not in text


async def test_an_echoed_token_never_reaches_the_client(client: Client, sandbox: SandboxServer) -> None:
    sandbox.state.inject(echo_authorization=1)
    generate = await client.call_tool("kling_generate_video_from_image", {"prompt": "x", "start_image_url": IMAGE_URL})
    assert generate.is_error
    assert "Kling error 1200" in text_of(generate)
    _assert_scrubbed(text_of(generate), sandbox)
    sandbox.state.inject(echo_authorization=1)
    got = await client.call_tool("kling_get_video_task", {"task_id": "263259029593143761"})
    assert got.is_error
    _assert_scrubbed(text_of(got), sandbox)


async def test_an_image_that_is_not_one_is_described_never_quoted(client: Client, tmp_path: Path) -> None:
    environ = tmp_path / "environ"
    environ.write_bytes(b"HOME=/root\x00LANG=C\x00KLING_SECRET_KEY=hunter2hunter2\x00")
    notes = tmp_path / "notes.png"
    notes.write_text("password: correct horse battery staple\n")
    binary = await client.call_tool("kling_generate_video_from_image", {"prompt": "x", "start_image_url": str(environ)})
    assert text_of(binary) == (
        "Error executing tool kling_generate_video_from_image: Invalid input: start_image_url: is not a jpg/jpeg or "
        "png image: the 50 bytes are not a PNG or JPEG (binary data of some other kind). No request was sent to Kling."
    )
    text = await client.call_tool("kling_generate_video_from_image", {"prompt": "x", "start_image_url": str(notes)})
    assert "not a PNG or JPEG (they look like plain text)" in text_of(text)
    assert "password" not in text_of(text) and "horse" not in text_of(text)


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs Linux /proc")
async def test_proc_self_environ_is_not_quoted(client: Client) -> None:
    result = await client.call_tool(
        "kling_generate_video_from_image", {"prompt": "x", "start_image_url": "/proc/self/environ"}
    )
    assert result.is_error
    text = text_of(result)
    assert "not a PNG or JPEG" in text
    for name, value in os.environ.items():
        assert f"{name}=" not in text
        if len(value) >= 8:
            assert value not in text


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_an_echoed_token_never_reaches_a_stdio_client(
    settings: Settings, sandbox: SandboxServer, mode: str, tmp_path: Path
) -> None:
    params = stdio_params(settings, KLING_MCP_LOG_LEVEL="DEBUG")
    with (tmp_path / "stderr.txt").open("w") as errlog:
        async with Client(stdio_client(params, errlog=errlog), mode=mode) as client:
            sandbox.state.inject(echo_authorization=1)
            arguments = {"prompt": "x", "start_image_url": IMAGE_URL}
            result = await client.call_tool("kling_generate_video_from_image", arguments)
    assert result.is_error
    _assert_scrubbed(text_of(result), sandbox)
    stderr = (tmp_path / "stderr.txt").read_text()
    assert "Kling error 1200" in stderr and "[REDACTED]" in stderr, "the failure is logged, scrubbed"
    assert "eyJ" not in stderr


@pytest.mark.slow
async def test_an_echoed_token_never_reaches_an_http_client(
    settings: Settings, sandbox: SandboxServer, tmp_path: Path
) -> None:
    with run_server(settings, tmp_path, KLING_MCP_AUTH_TOKEN=TOKEN) as server:
        async with connect(server.mcp_url) as client:
            sandbox.state.inject(echo_authorization=1)
            result = await client.call_tool(
                "kling_generate_video_from_image", {"prompt": "x", "start_image_url": IMAGE_URL}
            )
            # The configured HTTP token is a secret too, whatever text would carry it.
            echoed = await client.call_tool("kling_get_video_task", {"task_id": TOKEN})
        stderr = server.stderr()
    assert result.is_error
    _assert_scrubbed(text_of(result), sandbox)
    assert echoed.is_error and TOKEN not in text_of(echoed) and "[REDACTED]" in text_of(echoed)
    assert "eyJ" not in stderr and TOKEN not in stderr


@pytest.mark.slow
def test_check_does_not_print_an_echoed_token(settings: Settings, sandbox: SandboxServer, tmp_path: Path) -> None:
    sandbox.state.inject(echo_authorization=1)
    done = run_cli(settings, tmp_path, "--log-level", "DEBUG", "check")
    assert done.returncode == 1
    assert "✗ Kling refused the request: Kling error 1200" in done.stdout
    _assert_scrubbed(done.stdout, sandbox)
    assert "eyJ" not in done.stderr


@pytest.mark.slow
def test_a_short_http_token_is_refused_in_readable_words(settings: Settings, tmp_path: Path) -> None:
    done = run_cli(settings, tmp_path, "--transport", "streamable-http", KLING_MCP_AUTH_TOKEN="short")
    assert done.returncode == 2
    assert "bearer token #1 must be at least 16 visible ASCII characters without spaces" in done.stderr
    assert "[REDACTED]" not in done.stderr
