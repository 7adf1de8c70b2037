"""Deadlines for slow HTTP clients: a request's headers and its body must arrive in time, or the connection closes.

uvicorn's only clock is the keep-alive timer, armed after a response and cancelled by any byte received. A client
that connects and sends nothing, or sends its headers or body a byte at a time, holds a connection for as long as
it likes; a few hundred such sockets exhaust the server. This protocol adds the two missing clocks to uvicorn's
h11 protocol, driven by h11's view of the client: *headers* (from the connection's first byte, or the start of the
next request on a kept-alive connection, until the request line and headers are complete) and *body* (from then
until the body is complete). Long responses (SSE streams, a tool call waiting for a video) are not affected: the
request is complete by then.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

logger = logging.getLogger(__name__)

REQUEST_TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\nconnection: close\r\n"
    b"content-length: 38\r\n\r\nThe request was not sent fast enough.\n"
)


class DeadlineH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request's headers and one for its body."""

    header_timeout: float = 10.0
    body_timeout: float = 60.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._phase: str | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Start the header clock: a connection that never sends a request is closed too."""
        super().connection_made(transport)
        self._enter("headers")

    def data_received(self, data: bytes) -> None:
        """Let uvicorn handle the bytes, then set the clock for where the request now stands."""
        super().data_received(data)
        self._follow_request()

    def on_response_complete(self) -> None:
        """uvicorn arms its keep-alive timer here; ours stops until the next request starts."""
        super().on_response_complete()
        self._follow_request()

    def connection_lost(self, exc: Exception | None) -> None:
        """Stop the clock."""
        self._enter(None)
        super().connection_lost(exc)

    def _follow_request(self) -> None:
        state = self.conn.their_state
        if state is h11.SEND_BODY:
            self._enter("body")
        elif state is h11.IDLE and self.conn.trailing_data[0]:
            self._enter("headers")  # part of the next request has arrived on a kept-alive connection
        elif state is not h11.IDLE:
            self._enter(None)  # the request is complete (or the connection is closing)
        elif self._phase == "body":
            self._enter(None)

    def _enter(self, phase: str | None) -> None:
        if phase == self._phase:
            return  # the clock keeps running: trickling bytes do not reset it
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        self._phase = phase
        if phase is not None:
            seconds = self.header_timeout if phase == "headers" else self.body_timeout
            self._deadline = self.loop.call_later(seconds, self._expire, phase, seconds)

    def _expire(self, phase: str, seconds: float) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        logger.info("closed a connection from %s: its request %s took over %g s", _peer(self.client), phase, seconds)
        if self.conn.our_state is h11.IDLE:
            self.transport.write(REQUEST_TIMEOUT_RESPONSE)  # no response to this request has started yet
        self.transport.close()


def _peer(client: tuple[str, int] | None) -> str:
    return f"{client[0]}:{client[1]}" if client else "an unknown peer"


def deadline_protocol(header_timeout: float, body_timeout: float) -> type[DeadlineH11Protocol]:
    """The protocol class for uvicorn's `http=` setting, with these deadlines in seconds."""
    return type(
        "DeadlineH11Protocol",
        (DeadlineH11Protocol,),
        {"header_timeout": header_timeout, "body_timeout": body_timeout},
    )
