"""Clients for the MCP tasks protocol, written from the specification text (no SDK ships one in Python yet).

SEP-2663 (2026-07-28): a client extension `io.modelcontextprotocol/tasks` for the Python SDK's `Client`, whose
result claim turns a `resultType: "task"` answer into the final `CallToolResult` by polling `tasks/get` at the
server's `pollIntervalMs` — exactly the flow the SEP's "For MCP clients" steps describe.

2025-11-25: the SDK's client validates every `tools/call` answer as a `CallToolResult` (its 2025-11-25 surface has
no `CreateTaskResult`), so task-augmented requests go out through the session's raw dispatcher, at the JSON-RPC level.
"""

from __future__ import annotations

from typing import Any, Literal

import anyio
from mcp import Client
from mcp.client.extension import ClaimContext, ClientExtension, ResultClaim
from mcp_types import CallToolResult, Request, RequestParams, Result
from pydantic import ConfigDict, Field

EXTENSION_ID = "io.modelcontextprotocol/tasks"


class TaskIdParams(RequestParams):
    task_id: str = Field(alias="taskId")


class GetTask(Request[TaskIdParams, Literal["tasks/get"]]):
    method: Literal["tasks/get"] = "tasks/get"
    name_param = "taskId"  # SEP-2663: tasks/* carry the task id in the Mcp-Name header


class CancelTask(Request[TaskIdParams, Literal["tasks/cancel"]]):
    method: Literal["tasks/cancel"] = "tasks/cancel"
    name_param = "taskId"


class UpdateParams(TaskIdParams):
    input_responses: dict[str, Any] = Field(default_factory=dict, alias="inputResponses")


class UpdateTask(Request[UpdateParams, Literal["tasks/update"]]):
    method: Literal["tasks/update"] = "tasks/update"
    name_param = "taskId"


class AnyResult(Result):
    """Any result, every wire field kept."""

    model_config = ConfigDict(extra="allow")


class CreatedTask(Result):
    """SEP-2663 CreateTaskResult."""

    model_config = ConfigDict(extra="allow")
    result_type: Literal["task"]
    task_id: str
    status: str
    status_message: str | None = None
    created_at: str
    last_updated_at: str
    ttl_ms: int | None
    poll_interval_ms: int | None = None


def wire(result: Result) -> dict[str, Any]:
    """The result as it was on the wire (camelCase keys)."""
    return result.model_dump(by_alias=True, mode="json", exclude_none=True)


class SepTasksClient(ClientExtension):
    """Declares the tasks extension and finishes task answers by polling, recording every answer it saw."""

    identifier = EXTENSION_ID

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []

    def claims(self) -> list[ResultClaim[Any]]:
        return [ResultClaim(result_type="task", model=CreatedTask, resolve=self._resolve)]

    async def _resolve(self, created: CreatedTask, ctx: ClaimContext) -> CallToolResult:
        self.seen.append(wire(created))
        interval = created.poll_interval_ms or 1000
        while True:
            await anyio.sleep(interval / 1000)
            answer = wire(
                await ctx.session.send_request(GetTask(params=TaskIdParams(task_id=created.task_id)), AnyResult)
            )
            self.seen.append(answer)
            if answer["status"] == "completed":
                return CallToolResult.model_validate(answer["result"])
            if answer["status"] in ("failed", "cancelled"):
                raise RuntimeError(f"task {created.task_id} ended {answer['status']}: {answer.get('statusMessage')}")
            interval = answer.get("pollIntervalMs", interval)


async def sep_request(client: Client, request: Request[Any, Any]) -> dict[str, Any]:
    """One SEP-2663 request (the session stamps the 2026-07-28 envelope and the Mcp-Name header)."""
    return wire(await client.session.send_request(request, AnyResult))


async def legacy_request(client: Client, method: str, params: dict[str, Any]) -> dict[str, Any]:
    """One 2025-11-25 request at the JSON-RPC level (see the module docstring for why the raw dispatcher)."""
    result: dict[str, Any] = await client.session._dispatcher.send_raw_request(method, params, {})
    return result
