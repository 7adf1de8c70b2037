"""Bad JSON-RPC gets an answer over stdio (issue #11 row 10): a malformed line that carries an id is answered with
a JSON-RPC error for that id, as streamable HTTP answers it, and the server keeps serving."""

from __future__ import annotations

import json
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from kling_mcp.config import Settings
from kling_mcp.server.stdio import diagnose, top_level_members
from tests.conftest import subprocess_env

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
        assert tools["id"] == 99 and len(tools["result"]["tools"]) == 4, "the server must keep serving"
    finally:
        proc.stdin.close()
        proc.wait(timeout=20)
        assert proc.stdout is not None
        proc.stdout.close()
        stderr.close()
    assert proc.returncode == 0, (tmp_path / "stderr.txt").read_text()
