"""The two wire forms of an MCP task, drawn from one journaled Kling task and its handle.

2025-11-25 (core, experimental): `Task` with `ttl`/`pollInterval`; a failed tool call is a `failed` task.
2026-07-28 (extension `io.modelcontextprotocol/tasks`, SEP-2663): `ttlMs`/`pollIntervalMs`, the final result inlined
in `tasks/get`, and a tool error (`isError`) is a `completed` task whose result says so — `failed` is reserved for
JSON-RPC errors. Both forms are built here and nowhere else.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from kling_mcp.server.access import caller_for, token_of
from kling_mcp.server.descriptions import GET_TOOL

if TYPE_CHECKING:
    from kling_mcp.service.journal import TaskHandle
    from kling_mcp.service.wait.tracking import Snapshot

McpTaskStatus = Literal["working", "input_required", "completed", "failed", "cancelled"]

EXTENSION_ID = "io.modelcontextprotocol/tasks"
RELATED_TASK_KEY = "io.modelcontextprotocol/related-task"
LEGACY_VERSION = "2025-11-25"
# Kling deletes videos after 30 days: a handle lives as long unless the client asks for less.
MAX_TTL_MS = 30 * 24 * 3600 * 1000

CANCELLED_MESSAGE = (
    "No longer waited on at the client's request. Kling cannot cancel a task: the video will still be made and "
    f"billed. The task stays in the journal: {GET_TOOL} with task_id {{ref!r}} fetches it later."
)


def owner_of_request(request: object) -> str:
    """Who may see the tasks this request creates: the same owner the journal records for the Kling task
    (`kling_mcp.server.access.owner_of`: the OAuth subject, a static token's label), else the local user.

    Taken from the HTTP request itself (not the session's first one). Never a token: static tokens are represented
    by a label they cannot be recovered from.
    """
    return caller_for(token_of(request)).viewer.owner


def granted_ttl_ms(requested: int | None) -> int:
    """The ttl we keep a handle for: what the client asked for, at most as long as Kling keeps the video."""
    if requested is None or requested <= 0:
        return MAX_TTL_MS
    return min(requested, MAX_TTL_MS)


def expired(handle: TaskHandle, now: float) -> bool:
    """The handle's ttl has run out (the Kling task itself stays in the journal)."""
    return handle.ttl_ms is not None and now > handle.created_at + handle.ttl_ms / 1000


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _ref(snapshot: Snapshot) -> str:
    return snapshot.entry.task_id or snapshot.entry.external_task_id


def status_of(handle: TaskHandle, snapshot: Snapshot, *, tool_error_completes: bool) -> McpTaskStatus:
    """The MCP status. A cancelled handle stays cancelled whatever the Kling task does afterwards."""
    if handle.cancelled_at is not None:
        return "cancelled"
    kling = snapshot.entry.status
    if kling == "succeed":
        return "completed"
    if kling in ("failed", "create_failed"):
        return "completed" if tool_error_completes else "failed"
    return "working"


def status_message(handle: TaskHandle, snapshot: Snapshot) -> str:
    """One sentence for people: what Kling says about the task, or what cancelling meant."""
    entry, ref = snapshot.entry, _ref(snapshot)
    if handle.cancelled_at is not None:
        return CANCELLED_MESSAGE.format(ref=ref)
    if entry.status == "succeed":
        return f"Kling task {ref}: the video is ready."
    if entry.status in ("failed", "create_failed"):
        return f"Kling task {ref} failed: {entry.status_message or 'Kling gave no reason'}"
    return f"Kling task {ref}: {entry.status}. Videos usually take 30 s to a few minutes."


def _common(handle: TaskHandle, snapshot: Snapshot) -> dict[str, Any]:
    updated = max(snapshot.entry.updated_at, handle.cancelled_at or 0.0, handle.created_at)
    return {
        "taskId": handle.handle_id,
        "statusMessage": status_message(handle, snapshot),
        "createdAt": _iso(handle.created_at),
        "lastUpdatedAt": _iso(updated),
    }


def legacy_task(handle: TaskHandle, snapshot: Snapshot) -> dict[str, Any]:
    """A 2025-11-25 `Task` (also the body of `tasks/get` and `tasks/cancel` results)."""
    status = status_of(handle, snapshot, tool_error_completes=False)
    task = {"status": status, **_common(handle, snapshot), "ttl": handle.ttl_ms}
    if status == "working":
        task["pollInterval"] = round(snapshot.poll_interval * 1000)
    return task


def modern_task(handle: TaskHandle, snapshot: Snapshot, result: dict[str, Any] | None = None) -> dict[str, Any]:
    """A SEP-2663 `DetailedTask`; `result` is the tool's wire result, inlined once the task has completed."""
    status = status_of(handle, snapshot, tool_error_completes=True)
    task: dict[str, Any] = {"status": status, **_common(handle, snapshot), "ttlMs": handle.ttl_ms}
    if status == "working":
        task["pollIntervalMs"] = round(snapshot.poll_interval * 1000)
    if status == "completed" and result is not None:
        task["result"] = result
    return task


def with_related_task(result: dict[str, Any], handle_id: str) -> dict[str, Any]:
    """A 2025-11-25 `tasks/result` body: the tool's result plus the related-task metadata the spec requires."""
    meta = dict(result.get("_meta") or {})
    meta[RELATED_TASK_KEY] = {"taskId": handle_id}
    return {**result, "_meta": meta}


def immediate_response(snapshot: Snapshot) -> dict[str, Any]:
    """What a host may hand the model at once while the task runs (2025-11-25's provisional `_meta` key)."""
    text = (
        f"Kling task {_ref(snapshot)} was created (billed) and is running; the video usually takes 30 s to a few "
        "minutes. Its result will arrive when the task completes: do not generate the same video again."
    )
    return {"io.modelcontextprotocol/model-immediate-response": text}
