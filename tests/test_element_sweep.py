"""The start-up sweep resolves custom-element intents an earlier process left open, through the real server against
the sandbox and a real journal of each backend: a creation Kling made (by its external_task_id) is adopted with its
element id; one Kling answers it never received becomes `never_created` once past the grace period, and not while
Kling cannot be asked; a fresh intent is left alone. The runtime is opened with a call that reads no element (a list of
elements would settle stale rows itself, see tests/test_element_grace.py) and the outcome is read from the journal."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from kling_mcp.config import Settings
from kling_mcp.sandbox.runner import SandboxServer
from kling_mcp.server.build import build_server
from kling_mcp.service.custom_elements import result_of
from kling_mcp.service.describe.owners import local_owner
from kling_mcp.service.journal import open_journal
from kling_mcp.service.journal.element_rows import ElementEntry
from tests.conftest import FAST_RETRY, make_settings, text_of
from tests.names import LIST
from tests.sandbox_http import ELEMENT_BODY, ELEMENTS, answer, finished, signed

pytestmark = pytest.mark.anyio

GRACE = 6.0  # KLING_MCP_STALE_INTENT_AFTER: the least allowed with KLING_MCP_HTTP_TIMEOUT=1


def _journal_intent(location: str, external_task_id: str, kling_host: str) -> ElementEntry:
    """An element creation's intent as a process that died right after writing it left it."""
    journal = open_journal(location)
    try:
        entry = ElementEntry(external_task_id, ELEMENT_BODY["element_name"], owner=local_owner(), kling_host=kling_host)
        journal.record_element_intent(entry)
        return entry
    finally:
        journal.close()


def _journaled(location: str, external_task_id: str) -> dict[str, Any]:
    """The element as the journal knows it, in the element tools' shape."""
    journal = open_journal(location)
    try:
        entry = journal.element(external_task_id)
    finally:
        journal.close()
    assert entry is not None
    return result_of(entry).model_dump()


async def _open_runtime(client: Client) -> None:
    """The first call opens the runtime, which starts the sweep (a video task list: it reads no element)."""
    result = await client.call_tool(LIST, {})
    assert not result.is_error, text_of(result)


async def _settled(client: Client, location: str, external_task_id: str) -> dict[str, Any]:
    """The element as journaled once the sweep has moved it out of `creating` (or after 10 s)."""
    await _open_runtime(client)
    deadline = time.monotonic() + 10
    while True:
        element = _journaled(location, external_task_id)
        if element["status"] != "creating" or time.monotonic() > deadline:
            return element
        await anyio.sleep(0.05)


async def _after_the_sweep_asked(
    client: Client, sandbox: SandboxServer, location: str, external_task_id: str
) -> dict[str, Any]:
    """The element as journaled a while after the sweep asked Kling for it."""
    await _open_runtime(client)
    path = f"{ELEMENTS}/{external_task_id}"
    for _ in range(200):
        if any(r.method == "GET" and r.path == path for r in sandbox.state.requests):
            break
        await anyio.sleep(0.05)
    else:
        raise AssertionError("the start-up sweep never asked Kling for the element")
    await anyio.sleep(0.5)  # time for a (wrong) write to land
    return _journaled(location, external_task_id)


async def test_an_element_intent_whose_create_reached_kling_is_adopted_at_the_next_start(
    sandbox: SandboxServer, tmp_path: Path, shared_journal: str
) -> None:
    external = "kmcp-element-made"
    _journal_intent(shared_journal, external, sandbox.url)
    with signed(sandbox) as http:  # the create reached Kling; its answer died with the process
        _, code, data, message = answer(http.post(ELEMENTS, json={**ELEMENT_BODY, "external_task_id": external}))
        assert code == 0, message
        made = finished(http, f"{ELEMENTS}/{data['task_id']}")
    [made_element] = made["task_result"]["elements"]
    settings = make_settings(sandbox, tmp_path, KLING_MCP_JOURNAL=shared_journal)
    async with Client(build_server(settings, retry_policy=FAST_RETRY)) as client:
        element = await _settled(client, shared_journal, external)
    assert element["status"] == "succeed" and element["done"] is True, element
    assert element["element_id"] == made_element["element_id"] and element["task_id"] == made["task_id"]
    assert element["element_id"] in element["next_step"]
    assert len(sandbox.state.creates()) == 1, "the sweep only asks; it never creates"


@pytest.mark.slow
async def test_an_element_intent_kling_never_received_becomes_never_created_only_on_klings_word(
    sandbox: SandboxServer, tmp_path: Path, shared_journal: str
) -> None:
    external = "kmcp-element-lost"
    entry = _journal_intent(shared_journal, external, sandbox.url)
    settings = make_settings(
        sandbox,
        tmp_path,
        KLING_MCP_JOURNAL=shared_journal,
        KLING_MCP_HTTP_TIMEOUT=1,
        KLING_MCP_STALE_INTENT_AFTER=GRACE,
    )
    await anyio.sleep(max(0.0, entry.created_at + GRACE - time.time()) + 0.2)  # past the grace period
    # A start whose lookup Kling refuses (rate limited) learns nothing: the intent stays open.
    sandbox.state.inject(rate_limit=1, retry_after=0.1)
    async with Client(build_server(settings, retry_policy=FAST_RETRY)) as client:
        unasked = await _after_the_sweep_asked(client, sandbox, shared_journal, external)
    assert sandbox.state.fault_hits["rate_limit"] == 1
    assert unasked["status"] == "creating" and unasked["done"] is False, unasked
    # The next start asks again, Kling answers it has no such task: never created, safe to create again.
    sandbox.state.requests.clear()
    async with Client(build_server(settings, retry_policy=FAST_RETRY)) as client:
        element = await _settled(client, shared_journal, external)
    assert element["status"] == "never_created" and element["done"] is True, element
    assert "nothing was billed" in element["status_message"] and external in element["status_message"]
    assert "safe" in element["next_step"] and element["element_id"] is None
    assert [r.path for r in sandbox.state.requests if r.path.startswith(ELEMENTS)] == [f"{ELEMENTS}/{external}"]
    assert sandbox.state.creates() == []


async def test_a_fresh_element_intent_is_left_open(sandbox: SandboxServer, tmp_path: Path, shared_journal: str) -> None:
    external = "kmcp-element-in-flight"
    _journal_intent(shared_journal, external, sandbox.url)
    settings: Settings = make_settings(sandbox, tmp_path, KLING_MCP_JOURNAL=shared_journal)  # grace: 600 s
    async with Client(build_server(settings, retry_policy=FAST_RETRY)) as client:
        element = await _after_the_sweep_asked(client, sandbox, shared_journal, external)
    assert element["status"] == "creating" and element["done"] is False, element
    assert "do not create it again" in element["next_step"]
