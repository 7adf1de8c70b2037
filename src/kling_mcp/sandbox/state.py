"""The sandbox's memory: its tasks, the requests it received, its timing, and the faults it is told to inject."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kling_mcp.sandbox.billing import BILL_FAILED_TASKS, Account, default_packs, price_units, units_text
from kling_mcp.sandbox.elements import ElementStore
from kling_mcp.sandbox.kling3 import charge_for, model_of

SANDBOX_ACCESS_KEY = "sandbox-access-key"
SANDBOX_SECRET_KEY = "sandbox-secret-key-public-not-secret-0001"  # public on purpose: the sandbox guards no money


@dataclass
class SandboxConfig:
    """How the sandbox behaves. Times are seconds; `task_seconds` may depend on model, mode and duration."""

    access_key: str = SANDBOX_ACCESS_KEY
    secret_key: str = SANDBOX_SECRET_KEY
    queue_seconds: float = 1.0
    run_seconds: float = 4.0
    task_seconds: Callable[[str, str, str], float] | None = None
    concurrency_limit: int | None = None  # tasks submitted or processing at once; over it a create gets 1303
    costs_min_interval: float = 1.0  # `GET /account/costs` faster than this answers 1302
    reference_videos: dict[str, float] = field(default_factory=dict)  # motion control: video URL → its seconds

    def duration_of(self, model: str, mode: str, duration: str) -> float:
        """Seconds from submitted to succeed for a task of this profile."""
        if self.task_seconds is not None:
            return self.task_seconds(model, mode, duration)
        return self.queue_seconds + self.run_seconds


@dataclass
class Faults:
    """Faults to inject, each counting down per request it affects. Set them through `SandboxState.inject`."""

    create_error: int = 0  # answer create with `create_error_code`; nothing is created
    create_error_code: int = 5000
    create_drop: int = 0  # the task IS created, then the connection drops before the answer
    create_slow: int = 0  # the task IS created, the answer comes after `slow_seconds`
    rate_limit: int = 0  # 1303 with Retry-After on any /v1 request
    retry_after: float = 1.0
    query_server_error: int = 0  # 5000 on GET
    token_expired: int = 0  # 1004 for the token in use (see `SandboxState.is_expired`); a fresh token passes
    create_not_json: int = 0  # the task IS created, the answer is HTTP 200 with an HTML body (a proxy's page)
    create_odd_envelope: int = 0  # the task IS created, the answer's envelope has the shape `odd_envelope`
    # "no_task_status" | "unknown_status" | "code_not_int" | "no_data"
    odd_envelope: str = "no_task_status"
    create_lost: int = 0  # the request never reaches the task store: no task; the connection is held, then dropped
    query_odd_status: int = 0  # a task query / list answers with `odd_status` for the task (None: no task_status)
    odd_status: str | None = "queued"
    echo_authorization: int = 0  # refuse a /v1 request with a message that quotes its Authorization header
    echo_authorization_code: int = 1200
    fail_tasks: int = 0  # the next created tasks end `failed`
    fail_message: str = "Failure to pass the risk control system"
    video_slow: int = 0  # the video download starts only after `slow_seconds` (a slow CDN)
    slow_seconds: float = 3.0
    callback_lost: int = 0  # the next callbacks are never sent
    callback_late: int = 0  # the next callbacks are sent `callback_late_seconds` late
    callback_late_seconds: float = 2.0
    callback_duplicate: int = 0  # the next callbacks are sent twice
    callback_forged: int = 0  # with the next callbacks, a forged one ("succeed", fake video) to a wrong token
    odd_video_url: int = 0  # a query of a succeeded task answers its video URLs as `video_url` (e.g. javascript:)
    video_url: str = "javascript:alert(document.domain)"


@dataclass
class RecordedRequest:
    """A request as the sandbox received it (for tests to assert on)."""

    method: str
    path: str
    query: dict[str, str]
    body: dict[str, Any] | None
    authorization: str | None
    at: float = field(default_factory=time.monotonic)


@dataclass
class SentCallback:
    """A callback the sandbox sent: for which task and status, the HTTP status it got (0: none), forged or not."""

    task_id: str
    status: str
    http_status: int
    forged: bool = False


@dataclass(frozen=True)
class ReferenceFetch:
    """A motion-control reference video the sandbox fetched: its URL, the HTTP status (None: no answer) and the
    length its header gave (None: not read)."""

    url: str
    http_status: int | None
    seconds: float | None


@dataclass
class SandboxTask:
    task_id: str
    endpoint: str
    model: str
    mode: str
    duration: str
    external_task_id: str | None
    created_at: float
    processing_at: float
    finished_at: float
    fail_message: str | None = None
    callback_url: str | None = None
    units: float = 0.0  # what the task is charged (`final_unit_deduction` once it succeeds)

    def status(self, now: float) -> str:
        """submitted → processing → succeed | failed, by the clock."""
        if now >= self.finished_at:
            return "failed" if self.fail_message else "succeed"
        return "processing" if now >= self.processing_at else "submitted"


@dataclass
class SandboxState:
    """Everything the sandbox holds; safe to read and change from tests while it serves."""

    config: SandboxConfig = field(default_factory=SandboxConfig)
    clock: Callable[[], float] = time.time
    base_url: str = ""
    tasks: dict[str, SandboxTask] = field(default_factory=dict)
    requests: list[RecordedRequest] = field(default_factory=list)
    faults: Faults = field(default_factory=Faults)
    fault_hits: Counter[str] = field(default_factory=Counter)
    duplicate_creates: int = 0  # creates refused because their external_task_id was already used
    seen_tokens: set[str] = field(default_factory=set)  # every Authorization token presented so far
    expired_tokens: set[str] = field(default_factory=set)  # tokens a `token_expired` fault has expired
    callbacks: list[SentCallback] = field(default_factory=list)
    reference_fetches: list[ReferenceFetch] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    account: Account = field(default_factory=Account)  # its resource packs: `account.set_remaining(units, now)`
    elements: ElementStore = field(default_factory=ElementStore)

    def __post_init__(self) -> None:
        if not self.account.packs:
            self.account.packs = default_packs(self.clock())

    def inject(self, **changes: Any) -> None:
        """Set fault counters, e.g. `inject(create_drop=1)`."""
        with self.lock:
            for key, value in changes.items():
                if not hasattr(self.faults, key):
                    raise ValueError(f"unknown sandbox fault {key!r}")
                setattr(self.faults, key, value)
            if changes.get("token_expired"):
                self.expired_tokens = set(self.seen_tokens)  # the tokens in use now are the ones that expire

    def take_fault(self, name: str) -> bool:
        """Use up one count of a fault; True if it applies to this request."""
        with self.lock:
            left = getattr(self.faults, name)
            if left > 0:
                setattr(self.faults, name, left - 1)
                self.fault_hits[name] += 1
                return True
            return False

    def is_expired(self, token: str) -> bool:
        """True if a `token_expired` fault refuses this request's token (each refusal uses up one count).

        What expires is the token in use when the fault was set (or, if none was in use yet, the first one presented
        after it), never a token signed later: a fresh token is valid, as with Kling. Tokens are told apart by
        identity, not by their signing second, so no timing of the test decides whether the fault fires.
        """
        with self.lock:
            new = token not in self.seen_tokens
            self.seen_tokens.add(token)
            if self.faults.token_expired <= 0:
                return False
            if new and not self.expired_tokens:
                self.expired_tokens.add(token)  # nothing was in use at the fault: the first token presented expires
            if token not in self.expired_tokens:
                return False
            self.faults.token_expired -= 1
            self.fault_hits["token_expired"] += 1
            return True

    def reset(self) -> None:
        """Forget tasks, requests and faults (between tests)."""
        with self.lock:
            self.tasks.clear()
            self.requests.clear()
            self.faults = Faults()
            self.fault_hits.clear()
            self.duplicate_creates = 0
            self.expired_tokens.clear()
            self.seen_tokens.clear()
            self.callbacks.clear()
            self.reference_fetches.clear()
            self.account = Account(default_packs(self.clock()))
            self.elements = ElementStore()

    def record(self, request: RecordedRequest) -> None:
        with self.lock:
            self.requests.append(request)

    def note_fetch(self, fetch: ReferenceFetch) -> None:
        """Remember a reference video fetched (its length then counts for its URL)."""
        with self.lock:
            self.reference_fetches.append(fetch)

    def reference_lengths(self) -> dict[str, float]:
        """Reference video URL → seconds: what a fetch read, else what a test named in `config.reference_videos`."""
        with self.lock:
            read = {f.url: f.seconds for f in self.reference_fetches if f.seconds is not None}
        return {**self.config.reference_videos, **read}

    def creates(self) -> list[RecordedRequest]:
        """The create (POST) requests received so far."""
        with self.lock:
            return [r for r in self.requests if r.method == "POST" and r.path.startswith("/v1/")]

    def refusal(self, endpoint: str, body: dict[str, Any]) -> int | None:
        """1102 if the packs cannot pay for this valid body, 1303 if the account's task slots are all taken."""
        now = self.clock()
        price = price_units(charge_for(endpoint, body, self.reference_lengths()))
        with self.lock:
            if self.account.usable(now) < price:
                return 1102
            active = sum(1 for t in self.tasks.values() if t.status(now) in ("submitted", "processing"))
        limit = self.config.concurrency_limit
        return 1303 if limit is not None and active >= limit else None

    def add_task(self, endpoint: str, body: dict[str, Any]) -> SandboxTask:
        """Create a task from a valid body, charged at once to the packs; it starts `submitted`."""
        now = self.clock()
        charge = charge_for(endpoint, body, self.reference_lengths())
        model, mode, duration = model_of(endpoint, body), charge.mode, f"{charge.seconds:g}"
        total = self.config.duration_of(model, mode, duration)
        queue = min(self.config.queue_seconds, total / 2)
        fail = self.take_fault("fail_tasks")
        task = SandboxTask(
            task_id=str(uuid.uuid4().int)[:18],
            endpoint=endpoint,
            model=model,
            mode=mode,
            duration=duration,
            external_task_id=body.get("external_task_id"),
            created_at=now,
            processing_at=now + queue,
            finished_at=now + total,
            fail_message=self.faults.fail_message if fail else None,
            callback_url=body.get("callback_url"),
            units=price_units(charge) if BILL_FAILED_TASKS or not fail else 0.0,
        )
        with self.lock:
            self.account.charge(task.units, now)
            self.tasks[task.task_id] = task
        return task

    def find(self, endpoint: str, any_id: str) -> SandboxTask | None:
        """A task of this endpoint by task id or external task id."""
        with self.lock:
            task = self.tasks.get(any_id)
            if task is None:
                task = next((t for t in self.tasks.values() if t.external_task_id == any_id), None)
        return task if task is not None and task.endpoint == endpoint else None

    def external_id_taken(self, external_task_id: str) -> bool:
        """True (and counted as a duplicate create) when a task already has this external id."""
        with self.lock:
            taken = any(t.external_task_id == external_task_id for t in self.tasks.values())
            self.duplicate_creates += taken
            return taken

    def listing(self, endpoint: str) -> list[SandboxTask]:
        """This endpoint's tasks, newest first."""
        with self.lock:
            tasks = [t for t in self.tasks.values() if t.endpoint == endpoint]
        return sorted(tasks, key=lambda t: t.created_at, reverse=True)

    def view(self, task: SandboxTask) -> dict[str, Any]:
        """The task object as Kling returns it."""
        now = self.clock()
        status = task.status(now)
        updated = min(now, task.finished_at) if status in ("succeed", "failed") else now
        view: dict[str, Any] = {
            "task_id": task.task_id,
            "task_status": status,
            "task_status_msg": task.fail_message if status == "failed" else "",
            "task_info": {"external_task_id": task.external_task_id} if task.external_task_id else {},
            "created_at": int(task.created_at * 1000),
            "updated_at": int(updated * 1000),
        }
        if status == "succeed":
            view["task_result"] = {
                "videos": [
                    {
                        "id": f"video-{task.task_id}",
                        "url": f"{self.base_url}/sandbox/videos/{task.task_id}.mp4",
                        "watermark_url": f"{self.base_url}/sandbox/videos/{task.task_id}.mp4?watermark=1",
                        "duration": task.duration,
                    }
                ]
            }
            view["final_unit_deduction"] = units_text(task.units)
        else:
            view["task_result"] = {"videos": []}
        return view
