"""Bad JSON-RPC gets an answer over stdio (issue #11 row 10): a malformed line that carries an id is answered with
a JSON-RPC error for that id, as streamable HTTP answers it, and the server keeps serving."""

from __future__ import annotations

import io
import json
import select
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from mcp.shared.message import SessionMessage

from kling_mcp.config import Settings
from kling_mcp.http.settings import DEFAULT_MAX_BODY_BYTES
from kling_mcp.server.stdio_transport import DEFAULT_MAX_MESSAGE_BYTES, AnsweringReader, diagnose, top_level_members
from tests.conftest import subprocess_env
from tests.names import TOOLS

DEEP = b"[" * 10_000 + b"]" * 10_000
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}},
}
INVALID_REQUEST = (
    'Invalid Request: a JSON-RPC 2.0 message needs "jsonrpc": "2.0", a string "method" and, for a request, an "id" '
    "that is a string or an integer"
)

# (line sent, the answer expected: id, code, message — or its start, for parser messages)
CASES: list[tuple[str, bytes, Any, int, str]] = [
    ("params-string", b'{"jsonrpc":"2.0","id":10,"method":"tools/list","params":"oops"}', 10, -32602, "Invalid params"),
    ("params-nan", b'{"jsonrpc":"2.0","id":"n","method":"tools/list","params":NaN}', "n", -32602, "Invalid params"),
    (
        "deep",
        b'{"jsonrpc":"2.0","id":12,"method":"tools/list","params":{"a":' + DEEP + b"}}",
        12,
        -32700,
        "Parse error",
    ),
    ("deep-id-last", b'{"jsonrpc":"2.0","method":"ping","params":{"a":' + DEEP + b'},"id":"z"}', "z", -32700, "Parse"),
    ("invalid-utf8", b'{"jsonrpc":"2.0","id":13,"method":"tools/list\xff\xfe"}', 13, -32700, "Parse error: the line"),
    (
        "lone-surrogate",
        b'{"jsonrpc":"2.0","id":15,"method":"ping","params":{"c":"\\ud800"}}',
        15,
        -32700,
        "Parse error",
    ),
    ("cut-short", b'{"jsonrpc":"2.0","id":16,"method":', 16, -32700, "Parse error"),
    ("no-jsonrpc", b'{"id":17,"method":"ping"}', 17, -32600, INVALID_REQUEST),
    ("id-is-fraction", b'{"jsonrpc":"2.0","id":1.5,"method":"ping"}', None, -32600, INVALID_REQUEST),
    ("id-is-bool", b'{"jsonrpc":"2.0","id":true,"method":"ping"}', None, -32600, INVALID_REQUEST),
    ("not-json", b"hello there", None, -32700, "Parse error"),
    ("array", b"[1, 2]", None, -32600, INVALID_REQUEST),
    # A malformed *response* is not answered with its id: the client would take it for the answer to its own request.
    ("bad-response", b'{"jsonrpc":"2.0","id":18,"result":"x"}', None, -32600, INVALID_REQUEST),
]


@pytest.mark.parametrize(("line", "request_id", "code", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_malformed_line_gets_the_error_json_rpc_prescribes(
    line: bytes, request_id: Any, code: int, message: str
) -> None:
    answer = diagnose(line)
    assert answer is not None
    assert (answer.id, answer.error.code) == (request_id, code)
    assert answer.error.message.startswith(message)


@pytest.mark.parametrize(
    "line",
    [
        json.dumps(INITIALIZE).encode(),
        b'{"jsonrpc":"2.0","method":"notifications/initialized"}',
        b'{"jsonrpc":"2.0","method":"notifications/progress","params":"junk"}',  # a notification: never answered
    ],
)
def test_good_lines_and_notifications_are_left_to_the_sdk(line: bytes) -> None:
    assert diagnose(line) is None


def test_the_id_is_found_in_text_no_parser_accepts() -> None:
    assert top_level_members('{"jsonrpc":"2.0","params":{"id":3,"x":' + "[" * 50_000 + ',"id":"abc"') == {
        "jsonrpc": "2.0",
        "params": ...,
    }
    assert top_level_members('{"params":{"id":3},"id":"abc","method":"a\\"b"}') == {
        "params": ...,
        "id": "abc",
        "method": 'a"b',
    }


def _read_line(proc: subprocess.Popen[bytes], timeout: float) -> bytes | None:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    return proc.stdout.readline() if ready else None


@pytest.mark.slow
def test_a_stdio_server_answers_every_malformed_request_and_keeps_serving(settings: Settings, tmp_path: Path) -> None:
    stderr = (tmp_path / "stderr.txt").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "kling_mcp"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=stderr,
        env=subprocess_env(settings),
    )
    assert proc.stdin is not None

    def send(line: bytes) -> None:
        assert proc.stdin is not None
        proc.stdin.write(line + b"\n")
        proc.stdin.flush()

    try:
        send(json.dumps(INITIALIZE).encode())
        assert b'"id":1,"result"' in (_read_line(proc, 30) or b"")
        send(b'{"jsonrpc":"2.0","method":"notifications/initialized"}')
        started = time.monotonic()
        for _name, line, request_id, code, message in CASES:
            send(line)
            reply = _read_line(proc, 10)
            assert reply is not None, f"no answer to {line[:60]!r}"
            answer = json.loads(reply)
            assert (answer["id"], answer["error"]["code"]) == (request_id, code), answer
            assert answer["error"]["message"].startswith(message)
        assert time.monotonic() - started < 10
        send(b'{"jsonrpc":"2.0","id":99,"method":"tools/list"}')
        tools = json.loads(_read_line(proc, 10) or b"{}")
        assert tools["id"] == 99 and len(tools["result"]["tools"]) == len(TOOLS), "the server must keep serving"
    finally:
        proc.stdin.close()
        proc.wait(timeout=20)
        assert proc.stdout is not None
        proc.stdout.close()
        stderr.close()
    assert proc.returncode == 0, (tmp_path / "stderr.txt").read_text()


class _Stream(io.RawIOBase):
    """stdin that makes its bytes as they are read: parts given as bytes, or as (byte, count) for a long run."""

    def __init__(self, *parts: bytes | tuple[bytes, int]) -> None:
        self._parts = list(parts)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while self._parts:
            part = self._parts[0]
            if isinstance(part, bytes):
                size = min(len(buffer), len(part))
                buffer[:size] = part[:size]
                self._parts[0] = part[size:]
            else:
                byte, count = part
                size = min(len(buffer), count)
                buffer[:size] = byte * size
                self._parts[0] = (byte, count - size)
            if size:
                return size
            self._parts.pop(0)
        return 0


async def _read_all(reader: AnsweringReader) -> tuple[list[str], list[Any]]:
    answers: list[Any] = []

    async def send(message: SessionMessage) -> None:
        answers.append(message.message)

    reader.attach(send)
    return [line async for line in reader], answers


PING = b'{"jsonrpc":"2.0","id":7,"method":"ping"}\n'


@pytest.mark.anyio
async def test_an_over_long_line_is_discarded_as_it_streams_and_answered_with_id_null() -> None:
    limit, size = 64 * 1024, 24 * 1024 * 1024
    stream = io.BufferedReader(
        _Stream(b'{"jsonrpc":"2.0","id":5,"method":"x","params":{"a":"', (b"a", size), b"\n", PING)
    )
    tracemalloc.start()
    try:
        lines, answers = await _read_all(AnsweringReader(stream, limit))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert lines == [PING.decode()], "the next line is served"
    [answer] = answers
    assert answer.id is None and answer.error.code == -32600
    assert "at most 65,536 bytes (KLING_MCP_MAX_BODY_BYTES)" in answer.error.message
    assert f"this line was {size + 52:,} bytes" in answer.error.message
    assert peak < 8 * 1024 * 1024, f"the line was buffered: {peak:,} bytes at the peak"


def test_stdio_and_http_cap_a_message_alike_by_default() -> None:
    assert DEFAULT_MAX_MESSAGE_BYTES == DEFAULT_MAX_BODY_BYTES


@pytest.mark.anyio
async def test_a_line_of_exactly_the_cap_is_read_and_one_byte_more_is_not() -> None:
    limit = 1024
    exact = b'{"jsonrpc":"2.0","id":1,"method":"ping","params":{"p":"' + b"p" * (limit - 58) + b'"}}'
    assert len(exact) == limit
    over = exact[:-3] + b'p"}}'
    lines, answers = await _read_all(AnsweringReader(io.BufferedReader(_Stream(exact + b"\n", over + b"\n")), limit))
    assert lines == [exact.decode() + "\n"]
    assert [a.id for a in answers] == [None] and "this line was 1,025 bytes" in answers[0].error.message
    _, answers = await _read_all(AnsweringReader(io.BufferedReader(_Stream(over)), limit))  # cut off by EOF
    assert "more than 1,025 bytes (cut off by end of input)" in answers[0].error.message


@pytest.mark.slow
def test_a_stdio_server_refuses_a_message_over_the_cap_and_keeps_serving(settings: Settings, tmp_path: Path) -> None:
    env = subprocess_env(settings, KLING_MCP_MAX_BODY_BYTES=str(1024 * 1024))
    stderr = (tmp_path / "stderr.txt").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "kling_mcp"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, env=env
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        proc.stdin.write(json.dumps(INITIALIZE).encode() + b"\n")
        proc.stdin.flush()
        assert b'"id":1,"result"' in (_read_line(proc, 30) or b"")
        proc.stdin.write(b'{"jsonrpc":"2.0","id":2,"method":"ping","params":{"a":"' + b"a" * (20 * 1024 * 1024))
        proc.stdin.write(b'"}}\n' + PING)
        proc.stdin.flush()
        answer = json.loads(_read_line(proc, 30) or b"{}")
        assert answer["id"] is None and answer["error"]["code"] == -32600, answer
        assert "at most 1,048,576 bytes" in answer["error"]["message"]
        assert json.loads(_read_line(proc, 10) or b"{}") == {"jsonrpc": "2.0", "id": 7, "result": {}}
    finally:
        proc.stdin.close()
        proc.wait(timeout=20)
        proc.stdout.close()
        stderr.close()
    assert proc.returncode == 0, (tmp_path / "stderr.txt").read_text()
