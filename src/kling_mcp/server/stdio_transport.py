"""Serve MCP over stdio with the SDK's transport, behind a reader that answers malformed lines.

The SDK's stdio reader turns a line it cannot parse or validate into an exception that the session logs and drops,
so a client that sent a request with an id waits for an answer that never comes (python-sdk issues #2751, #2848).
Over streamable HTTP the same input gets a JSON-RPC error. This reader checks each line first: good lines go on to
the SDK unchanged; a bad one is answered here, as JSON-RPC 2.0 says (-32700 parse error, -32600 invalid request,
-32602 invalid params), with the request's id whenever it can be found, and never reaches the SDK.

A line longer than the message cap (KLING_MCP_MAX_BODY_BYTES, as over HTTP) is read in bounded pieces and dropped as
it streams, never held whole, and answered with -32600 and id null: a 200 MB line would otherwise be buffered,
decoded and parsed in full (the process grew from 68 to 760 MB).
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import sys
from collections.abc import Awaitable, Callable
from typing import Any, BinaryIO

import anyio
import mcp_types as types
import pydantic_core
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server
from mcp.shared.message import SessionMessage
from mcp_types import INVALID_PARAMS, INVALID_REQUEST, PARSE_ERROR, ErrorData, JSONRPCError
from pydantic import ValidationError

logger = logging.getLogger(__name__)

_SPECIAL = re.compile(r'["{}\[\]]')
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_MEMBER = re.compile(r'\s*:\s*(-?\d+(?![.eE\d])|"(?:[^"\\]|\\.)*")?')

NOT_A_REQUEST = (
    'Invalid Request: a JSON-RPC 2.0 message needs "jsonrpc": "2.0", a string "method" and, for a request, an "id" '
    "that is a string or an integer"
)
PARAMS_NOT_AN_OBJECT = 'Invalid params: "params" must be a JSON object'
# The largest message read over stdio, by default: HTTP's default body cap (an inline 10 MB image is ~14 MB of JSON).
DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024
# An over-long line is skipped in reads of at most this many bytes.
_DISCARD_CHUNK = 1024 * 1024


def too_large(size: int, limit: int, *, whole: bool) -> JSONRPCError:
    """The answer to a line over the cap (its id cannot be known without reading it all: null)."""
    seen = f"{size:,} bytes" if whole else f"more than {size:,} bytes (cut off by end of input)"
    return _error(
        None,
        INVALID_REQUEST,
        f"Invalid Request: a message may be at most {limit:,} bytes (KLING_MCP_MAX_BODY_BYTES); this line was {seen} "
        "and was discarded unread",
    )


def top_level_members(text: str) -> dict[str, Any]:
    """The names of a JSON object's top-level members, with their values where those are strings or integers
    (else `...`), found without parsing the rest.

    Works on text no parser accepts (cut short, nested 10,000 deep, with a bad escape), so an answer can still carry
    the request's id. Depth is counted, never recursed into.
    """
    found: dict[str, Any] = {}
    depth, at = 0, 0
    while (special := _SPECIAL.search(text, at)) is not None:
        at = special.start()
        if text[at] != '"':
            depth += 1 if text[at] in "{[" else -1
            at += 1
            continue
        string = _STRING.match(text, at)
        if string is None:
            break  # an unterminated string: nothing after it can be read
        at = string.end()
        member = _MEMBER.match(text, at) if depth == 1 else None
        if member is not None:
            with contextlib.suppress(ValueError):  # a bad escape in that member: skip it
                value = json.loads(member.group(1)) if member.group(1) else ...
                found.setdefault(json.loads(string.group()), value)
    return found


def _valid_id(value: Any) -> str | int | None:
    return value if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)) else None


def diagnose(line: bytes) -> JSONRPCError | None:
    """The error answer a line deserves, or None if the SDK should have it (valid, or a notification to drop)."""
    text = line.decode("utf-8", errors="replace")
    try:
        line.decode("utf-8")
        parsed = types.jsonrpc_message_adapter.validate_json(line, by_name=False)
        return _request_with_a_bad_id(line) if isinstance(parsed, types.JSONRPCNotification) else None
    except UnicodeDecodeError:
        return _answer(PARSE_ERROR, "Parse error: the line is not valid UTF-8", text)
    except ValidationError:
        pass
    try:
        message = pydantic_core.from_json(line)
    except ValueError as exc:
        return _answer(PARSE_ERROR, f"Parse error: {exc}", text)
    if not isinstance(message, dict):
        return _error(None, INVALID_REQUEST, NOT_A_REQUEST)
    if "id" not in message:
        return None  # a malformed notification (or response): JSON-RPC answers neither; the SDK logs and drops it
    request_id = _valid_id(message["id"])
    well_formed = message.get("jsonrpc") == "2.0" and isinstance(message.get("method"), str)
    if request_id is not None and well_formed and not isinstance(message.get("params"), dict | None):
        return _error(request_id, INVALID_PARAMS, PARAMS_NOT_AN_OBJECT)
    # Only a request's id is echoed: a malformed *response* must not look like the answer to one of the client's.
    return _error(request_id if "method" in message else None, INVALID_REQUEST, NOT_A_REQUEST)


def _request_with_a_bad_id(line: bytes) -> JSONRPCError | None:
    """The SDK reads a request whose id is neither a string nor an integer (`1.5`, `true`) as a notification,
    which gets no answer; JSON-RPC calls it an invalid request."""
    if b'"id"' not in line:
        return None
    message = pydantic_core.from_json(line)
    return _error(None, INVALID_REQUEST, NOT_A_REQUEST) if isinstance(message, dict) and "id" in message else None


def _answer(code: int, message: str, text: str) -> JSONRPCError:
    members = top_level_members(text)
    return _error(_valid_id(members.get("id")) if "method" in members else None, code, message)


def _error(request_id: str | int | None, code: int, message: str) -> JSONRPCError:
    return JSONRPCError(jsonrpc="2.0", id=request_id, error=ErrorData(code=code, message=message))


class AnsweringReader:
    """stdin as the SDK's transport reads it (text lines), minus the bad lines, which are answered instead."""

    def __init__(self, stdin: BinaryIO, max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES) -> None:
        self._stdin = stdin
        self._limit = max_message_bytes
        self._send: Callable[[SessionMessage], Awaitable[None]] | None = None
        self._attached = anyio.Event()

    def attach(self, send: Callable[[SessionMessage], Awaitable[None]]) -> None:
        """Where answers go: the transport's write stream, so they are framed like every other message."""
        self._send = send
        self._attached.set()

    def __aiter__(self) -> AnsweringReader:
        return self

    async def __anext__(self) -> str:
        # At most the cap plus its newline is read at once: a longer line is never held whole.
        while line := await self._readline(self._limit + 1):
            if len(line) > self._limit and not line.endswith(b"\n"):
                size, whole = await self._discard_rest_of_line(len(line))
                logger.warning("discarded a stdio message over %d bytes (%d bytes read)", self._limit, size)
                await self._answer(too_large(size, self._limit, whole=whole))
                continue
            if not line.strip():
                continue
            answer = diagnose(line)
            if answer is None:
                return line.decode("utf-8", errors="replace")
            logger.info("answered a malformed JSON-RPC line (id %r) with %d", answer.id, answer.error.code)
            await self._answer(answer)
        raise StopAsyncIteration

    async def _discard_rest_of_line(self, size: int) -> tuple[int, bool]:
        """Read and drop up to the end of the line; returns its size and whether its end (not EOF) was reached."""
        while chunk := await self._readline(_DISCARD_CHUNK):
            size += len(chunk)
            if chunk.endswith(b"\n"):
                return size - 1, True
        return size, False

    async def _readline(self, size: int) -> bytes:
        """One line, or its first `size` bytes (in a worker thread: stdin blocks)."""
        return await anyio.to_thread.run_sync(self._stdin.readline, size)

    async def _answer(self, answer: JSONRPCError) -> None:
        await self._attached.wait()
        assert self._send is not None
        await self._send(SessionMessage(answer))


async def serve_stdio(server: Server[Any], max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES) -> None:
    """Run the low-level server over this process's stdin/stdout until stdin closes; longer lines are refused."""
    reader = AnsweringReader(sys.stdin.buffer, max_message_bytes)
    # stdout is left to the SDK, which moves fd 1 aside so nothing else can write into the protocol stream.
    async with stdio_server(stdin=reader) as (read_stream, write_stream):  # type: ignore[arg-type]
        reader.attach(write_stream.send)
        await server.run(read_stream, write_stream, server.create_initialization_options())
