"""SSE priming events and a `retry` hint (SEP-1699), through the SDK's `EventStore` hook.

The SDK's streamable HTTP transport opens each SSE stream with a priming event (an event id, empty data, and the
`retry` interval) only when it has an event store. This store keeps the event ids and the stream each belongs to,
never the messages: the SDK hands one store every session's events, keyed by the JSON-RPC request id, which
another session can use too, so a replayed message could reach the wrong caller. A client that reconnects with
`Last-Event-ID` is put back on its live stream; a message sent while it was away is not replayed (a tool result so
missed is still in the journal: `kling_get_video_task` returns it). Once a stream's answer is sent its cursors are
forgotten, so a reconnection after the answer gets a stream that ends at once instead of one that never does.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict

from mcp.server.streamable_http import EventCallback, EventId, EventStore, StreamId
from mcp_types import JSONRPCError, JSONRPCMessage, JSONRPCResponse

# How long a client waits before reconnecting a dropped stream (the SSE `retry` field, in milliseconds).
RETRY_MS = 1000
# Event ids remembered; beyond this the oldest are forgotten (a reconnection with one gets no stream back).
REMEMBERED_EVENTS = 10_000


class StreamCursors(EventStore):
    """An `EventStore` of cursors only: which stream each event id belongs to, bounded, in memory."""

    def __init__(self, limit: int = REMEMBERED_EVENTS) -> None:
        self.limit = limit
        self.streams: OrderedDict[EventId, StreamId] = OrderedDict()

    async def store_event(self, stream_id: StreamId, message: JSONRPCMessage | None) -> EventId:
        """A new unguessable event id for `stream_id` (the message itself is not kept)."""
        event_id = secrets.token_urlsafe(12)
        if isinstance(message, JSONRPCResponse | JSONRPCError) and str(message.id) == stream_id:
            for ended in [e for e, s in self.streams.items() if s == stream_id]:
                del self.streams[ended]
            return event_id
        self.streams[event_id] = stream_id
        while len(self.streams) > self.limit:
            self.streams.popitem(last=False)
        return event_id

    async def replay_events_after(self, last_event_id: EventId, send_callback: EventCallback) -> StreamId | None:  # noqa: ARG002
        """The stream `last_event_id` belongs to, so the SDK resumes it live; nothing is replayed."""
        return self.streams.get(last_event_id)
