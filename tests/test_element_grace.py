"""`kling_get_element` (and, bounded, `kling_list_elements`) settle a creation known only by its intent, through the
same `IntentResolver` as a video task's look-up: a fresh intent is left open; one Kling made (found by its
external_task_id) is adopted with its element id; one Kling answers it never received becomes `never_created` once
past the grace period; while Kling cannot be asked it stays `creating` and the answer says the outcome is unknown.

The service tests move a wall clock by hand against the real sandbox and a real journal of each backend; the client
tests drive the real server through an in-memory MCP client.
"""

from __future__ import annotations

import socket
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import Client
from pydantic import SecretStr

from kling_mcp.api.client import KlingClient
from kling_mcp.api.signing import JwtSigner
from kling_mcp.sandbox.runner import SandboxServer
from kling_mcp.server.build import build_server
from kling_mcp.service.custom_elements import ElementResult
from kling_mcp.service.describe.owners import local_owner
from kling_mcp.service.journal import CREATING, NEVER_CREATED, TaskJournal, open_journal
from kling_mcp.service.journal.element_rows import ElementEntry
from kling_mcp.service.options import ServiceOptions
from kling_mcp.service.video import VideoService
from tests.clocks import HandClock
from tests.conftest import FAST_RETRY, journal_file, make_settings, text_of
from tests.names import GET_ELEMENT, LIST_ELEMENTS
from tests.sandbox_http import ELEMENT_BODY, ELEMENTS, answer, finished, signed

pytestmark = pytest.mark.anyio

GRACE = 600.0


@dataclass
class Parts:
    journal: TaskJournal
    clock: HandClock
    service: Callable[..., VideoService]


@pytest.fixture
async def parts(sandbox: SandboxServer, shared_journal: str) -> AsyncIterator[Parts]:
    config = sandbox.state.config
    signer = JwtSigner(config.access_key, SecretStr(config.secret_key))
    journal = open_journal(shared_journal)
    clock = HandClock(time.time())
    options = ServiceOptions(stale_intent_seconds=GRACE)
    async with httpx.AsyncClient(base_url=sandbox.url) as http:

        def service(kling: httpx.AsyncClient = http) -> VideoService:
            """The service asking Kling through `kling` (another client: a Kling that cannot be reached)."""
            client = KlingClient(kling, signer, policy=FAST_RETRY)
            return VideoService(client, journal, options, wall_clock=clock, kling_host=sandbox.url)

        try:
            yield Parts(journal, clock, service)
        finally:
            journal.close()


def _intent(journal: TaskJournal, external_task_id: str, kling_host: str) -> ElementEntry:
    """An element creation's intent as a create writes it before its request (the journal stamps its time)."""
    entry = ElementEntry(external_task_id, ELEMENT_BODY["element_name"], owner=local_owner(), kling_host=kling_host)
    journal.record_element_intent(entry)
    return entry


def _row(journal: TaskJournal, external_task_id: str) -> ElementEntry:
    entry = journal.element(external_task_id)
    assert entry is not None
    return entry


def _made_at_kling(sandbox: SandboxServer, external_task_id: str) -> dict[str, Any]:
    """The creation reached Kling (its answer died with the process): the finished element task."""
    with signed(sandbox) as http:
        _, code, data, message = answer(
            http.post(ELEMENTS, json={**ELEMENT_BODY, "external_task_id": external_task_id})
        )
        assert code == 0, message
        return finished(http, f"{ELEMENTS}/{data['task_id']}")


def _asked(sandbox: SandboxServer) -> list[str]:
    return [r.path for r in sandbox.state.requests if r.method == "GET" and r.path.startswith(ELEMENTS)]


def _still_open(result: ElementResult, external_task_id: str) -> None:
    """An open creation's answer: not done, nothing claimed lost, the caller told not to create it again."""
    assert result.status == CREATING and result.done is False and result.element_id is None, result
    assert "do not create it again" in result.next_step and external_task_id in result.next_step
    assert "not yet known" in result.next_step
    for claim in ("nothing was billed", "never received", "never reached", "safe"):
        assert claim not in (result.status_message or "") + result.next_step, result


async def test_a_fresh_element_intent_is_left_open(parts: Parts, sandbox: SandboxServer) -> None:
    entry = _intent(parts.journal, "kmcp-el-fresh", sandbox.url)
    parts.clock.now = entry.created_at + GRACE - 1  # one second short of the grace period
    result = await parts.service().elements.get("kmcp-el-fresh")
    _still_open(result, "kmcp-el-fresh")
    assert result.status_message is not None and "in 1 s" in result.status_message
    assert _row(parts.journal, "kmcp-el-fresh").status == CREATING
    assert _asked(sandbox) == [f"{ELEMENTS}/kmcp-el-fresh"]


async def test_a_stale_element_intent_kling_made_is_adopted(parts: Parts, sandbox: SandboxServer) -> None:
    entry = _intent(parts.journal, "kmcp-el-made", sandbox.url)
    made = _made_at_kling(sandbox, "kmcp-el-made")
    [element] = made["task_result"]["elements"]
    parts.clock.now = entry.created_at + 10 * GRACE  # long past the grace period: Kling's word still wins
    result = await parts.service().elements.get("kmcp-el-made")
    assert result.status == "succeed" and result.done is True, result
    assert result.element_id == element["element_id"] and result.task_id == made["task_id"]
    row = _row(parts.journal, "kmcp-el-made")
    assert (row.status, row.task_id, row.element_id) == ("succeed", made["task_id"], element["element_id"])
    assert len(sandbox.state.creates()) == 1, "a look-up only asks; it never creates"


async def test_a_stale_element_intent_kling_never_received_becomes_never_created(
    parts: Parts, sandbox: SandboxServer
) -> None:
    entry = _intent(parts.journal, "kmcp-el-lost", sandbox.url)
    parts.clock.now = entry.created_at + GRACE
    result = await parts.service().elements.get("kmcp-el-lost")
    assert result.status == NEVER_CREATED and result.done is True and result.element_id is None, result
    assert "creating it again is safe" in result.next_step
    assert result.status_message is not None and "nothing was billed" in result.status_message
    assert _row(parts.journal, "kmcp-el-lost").status == NEVER_CREATED
    assert _asked(sandbox) == [f"{ELEMENTS}/kmcp-el-lost"] and sandbox.state.creates() == []


def _closed_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


@pytest.mark.parametrize("failure", ["server error", "connection refused"])
async def test_a_stale_element_intent_stays_creating_while_kling_cannot_be_asked(
    parts: Parts, sandbox: SandboxServer, failure: str
) -> None:
    entry = _intent(parts.journal, "kmcp-el-unasked", sandbox.url)
    parts.clock.now = entry.created_at + 10 * GRACE
    async with httpx.AsyncClient(base_url=_closed_port()) as unreachable:
        if failure == "server error":
            sandbox.state.inject(query_server_error=1)
            service = parts.service()
        else:
            service = parts.service(unreachable)
        result = await service.elements.get("kmcp-el-unasked")
    _still_open(result, "kmcp-el-unasked")
    assert result.status_message is not None and "the outcome is unknown" in result.status_message
    assert _row(parts.journal, "kmcp-el-unasked").status == CREATING


async def test_a_list_settles_at_most_three_stale_intents(parts: Parts, sandbox: SandboxServer) -> None:
    entries = [_intent(parts.journal, f"kmcp-el-{n}", sandbox.url) for n in range(5)]
    parts.clock.now = entries[-1].created_at + GRACE
    listed = await parts.service().elements.list()
    statuses = {r.external_task_id: r.status for r in listed}
    newest_first = [f"kmcp-el-{n}" for n in (4, 3, 2, 1, 0)]
    assert [r.external_task_id for r in listed] == newest_first
    assert [statuses[e] for e in newest_first] == [NEVER_CREATED] * 3 + [CREATING] * 2
    assert _asked(sandbox) == [f"{ELEMENTS}/{e}" for e in newest_first[:3]]
    for result in listed[3:]:
        _still_open(result, result.external_task_id or "")
    sandbox.state.requests.clear()
    again = await parts.service().elements.list()  # the next list settles the rest
    assert {r.status for r in again} == {NEVER_CREATED}
    assert _asked(sandbox) == [f"{ELEMENTS}/{e}" for e in newest_first[3:]]


async def test_a_list_stops_asking_once_kling_cannot_be_asked(parts: Parts, sandbox: SandboxServer) -> None:
    entries = [_intent(parts.journal, f"kmcp-el-{n}", sandbox.url) for n in range(3)]
    parts.clock.now = entries[-1].created_at + GRACE
    sandbox.state.inject(query_server_error=1)
    listed = await parts.service().elements.list()
    assert _asked(sandbox) == [f"{ELEMENTS}/kmcp-el-2"], "one failed question is enough for this list"
    assert listed[0].status_message is not None and "the outcome is unknown" in listed[0].status_message
    for result in listed:
        _still_open(result, result.external_task_id or "")


# Through the real server and an in-memory MCP client. The intent is written after the first call opened the runtime:
# the start-up sweep only judges intents written before it, so what settles it here is the look-up itself.


def _element(result: Any) -> dict[str, Any]:
    assert result.structured_content is not None and not result.is_error, text_of(result)
    element: dict[str, Any] = result.structured_content["result"]
    return element


async def test_kling_get_element_leaves_a_fresh_intent_open_and_adopts_what_kling_made(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    settings = make_settings(sandbox, tmp_path)
    async with Client(build_server(settings, retry_policy=FAST_RETRY)) as client:
        await client.call_tool(LIST_ELEMENTS, {})  # opens the runtime (and its start-up sweep)
        journal = open_journal(str(journal_file(tmp_path)))
        try:
            _intent(journal, "kmcp-el-open", sandbox.url)
            _intent(journal, "kmcp-el-found", sandbox.url)
        finally:
            journal.close()
        made = _made_at_kling(sandbox, "kmcp-el-found")
        fresh = _element(await client.call_tool(GET_ELEMENT, {"element_id": "kmcp-el-open"}))
        found = _element(await client.call_tool(GET_ELEMENT, {"element_id": "kmcp-el-found"}))
        listed = (await client.call_tool(LIST_ELEMENTS, {})).structured_content
    assert fresh["status"] == CREATING and fresh["done"] is False and "not yet known" in fresh["next_step"]
    assert "does not know this task yet" in fresh["status_message"]
    [element] = made["task_result"]["elements"]
    assert found["status"] == "succeed" and found["element_id"] == element["element_id"], found
    assert listed is not None
    assert {e["external_task_id"]: e["element_id"] for e in listed["elements"]} == {
        "kmcp-el-open": None,
        "kmcp-el-found": element["element_id"],
    }


@pytest.mark.slow
async def test_kling_get_element_declares_a_stale_intent_kling_never_received_never_created(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    grace = 6.0  # the least KLING_MCP_STALE_INTENT_AFTER allowed with KLING_MCP_HTTP_TIMEOUT=1
    settings = make_settings(sandbox, tmp_path, KLING_MCP_HTTP_TIMEOUT=1, KLING_MCP_STALE_INTENT_AFTER=grace)
    async with Client(build_server(settings, retry_policy=FAST_RETRY)) as client:
        await client.call_tool(LIST_ELEMENTS, {})
        journal = open_journal(str(journal_file(tmp_path)))
        try:
            entry = _intent(journal, "kmcp-el-gone", sandbox.url)
        finally:
            journal.close()
        early = _element(await client.call_tool(GET_ELEMENT, {"element_id": "kmcp-el-gone"}))
        await anyio.sleep(max(0.0, entry.created_at + grace - time.time()) + 0.2)
        late = _element(await client.call_tool(GET_ELEMENT, {"element_id": "kmcp-el-gone"}))
    assert early["status"] == CREATING and early["done"] is False
    assert late["status"] == NEVER_CREATED and late["done"] is True, late
    assert "safe" in late["next_step"] and "nothing was billed" in late["status_message"]
    assert sandbox.state.creates() == []
