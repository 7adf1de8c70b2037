"""The sandbox's callbacks, as kling-api.md describes Kling's: on each status change of a task created with a
`callback_url`, a POST of the bare task object (no envelope, no signature) to that URL. Faults: lost, late,
duplicated, and forged ones (a fake "succeed" sent to the address with a wrong token).
"""

from __future__ import annotations

import heapq
import json
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from kling_mcp.sandbox.state import SandboxState, SentCallback

logger = logging.getLogger(__name__)

TICK_SECONDS = 0.01  # how often task statuses are looked at: the sandbox's callback latency
SEND_TIMEOUT = 5.0


@dataclass(order=True)
class _Delivery:
    at: float
    url: str = field(compare=False)
    body: dict[str, Any] = field(compare=False)
    forged: bool = field(default=False, compare=False)


def _forged_url(url: str) -> str:
    """The callback address with its last path part (the token) replaced."""
    return url.rsplit("/", 1)[0] + "/" + "0" * 32


class CallbackSender:
    """A thread that watches the sandbox's tasks and delivers their callbacks."""

    def __init__(self, state: SandboxState) -> None:
        self._state = state
        self._sent_status: dict[str, str] = {}
        self._queue: list[_Delivery] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kling-sandbox-callbacks", daemon=True)

    def start(self) -> None:
        """Start watching."""
        self._thread.start()

    def stop(self) -> None:
        """Stop watching and sending."""
        self._stop.set()
        self._thread.join(timeout=SEND_TIMEOUT + 1)

    def _run(self) -> None:
        with httpx.Client(timeout=SEND_TIMEOUT) as http:
            while not self._stop.wait(TICK_SECONDS):
                self._enqueue_changes()
                now = time.monotonic()
                while self._queue and self._queue[0].at <= now:
                    self._send(http, heapq.heappop(self._queue))

    def _enqueue_changes(self) -> None:
        state = self._state
        now = state.clock()
        with state.lock:
            tasks = [t for t in state.tasks.values() if t.callback_url]
        for task in tasks:
            status = task.status(now)
            if self._sent_status.get(task.task_id) == status:
                continue
            self._sent_status[task.task_id] = status
            assert task.callback_url is not None
            self._schedule(task.callback_url, state.view(task))

    def _schedule(self, url: str, body: dict[str, Any]) -> None:
        state, at = self._state, time.monotonic()
        if state.take_fault("callback_lost"):
            return
        if state.take_fault("callback_late"):
            at += state.faults.callback_late_seconds
        copies = 2 if state.take_fault("callback_duplicate") else 1
        for _ in range(copies):
            heapq.heappush(self._queue, _Delivery(at, url, body))
        if state.take_fault("callback_forged"):
            fake = {"id": "forged", "url": "https://forged.example/video.mp4", "duration": "5"}
            forged = {**body, "task_status": "succeed", "task_result": {"videos": [fake]}}
            heapq.heappush(self._queue, _Delivery(at, _forged_url(url), forged, forged=True))

    def _send(self, http: httpx.Client, delivery: _Delivery) -> None:
        task_id, status = delivery.body["task_id"], delivery.body["task_status"]
        content = json.dumps(delivery.body).encode()
        try:
            code = http.post(delivery.url, content=content, headers={"Content-Type": "application/json"}).status_code
        except httpx.HTTPError as exc:
            logger.debug("callback of task %s (%s) not delivered: %s", task_id, status, exc)
            code = 0
        with self._state.lock:
            self._state.callbacks.append(SentCallback(task_id, status, code, forged=delivery.forged))
