"""Issue #11 rows 1–3: once a create may have left, the outcome is refused, created or unknown — never "invalid input".

Each test drives the real server through a real MCP client against the sandbox, which misbehaves on purpose.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client

from kling_mcp.config import Settings
from kling_mcp.sandbox.runner import SandboxServer
from tests.conftest import journal_entry, settled_journal_entry, text_of
from tests.names import GENERATE, GET

pytestmark = pytest.mark.anyio

ARGS = {"prompt": "a lantern drifting upward", "start_image_url": "https://images.example.com/lantern.png"}
# Texts that would tell the caller nothing was spent: only true when Kling said so (or nothing left the machine).
FALSE_COMFORT = ("No request was sent", "No task was created", "nothing was sent", "Invalid input")
IDS = re.compile(r"kmcp-[0-9a-f]{32}|\b\d{18}\b")


def _task(result: Any) -> dict[str, Any]:
    assert result.structured_content is not None, text_of(result)
    task: dict[str, Any] = result.structured_content["result"]
    return task


def _assert_no_false_comfort(text: str) -> None:
    for phrase in FALSE_COMFORT:
        assert phrase.lower() not in text.lower(), f"{phrase!r} in {text!r}"


async def test_row1_create_answered_200_not_json_is_adopted_not_failed(
    client: Client, sandbox: SandboxServer, settings: Settings
) -> None:
    sandbox.state.inject(create_not_json=1)
    result = await client.call_tool(GENERATE, ARGS)
    assert not result.is_error, text_of(result)
    [created] = sandbox.state.tasks.values()
    assert _task(result)["task_id"] == created.task_id, "the task behind the garbled answer was found and adopted"
    assert len(sandbox.state.creates()) == 1, "never re-sent: it was looked up by external_task_id"
    entry = await settled_journal_entry(settings, created.task_id, "succeed")
    assert entry is not None and entry.status == "succeed"


async def test_row1_not_json_and_lookups_failing_is_unknown_with_ids_never_create_failed(
    client: Client, sandbox: SandboxServer, settings: Settings
) -> None:
    sandbox.state.inject(create_not_json=1, query_server_error=1000)
    result = await client.call_tool(GENERATE, ARGS)
    assert result.is_error
    text = text_of(result)
    _assert_no_false_comfort(text)
    [created] = sandbox.state.tasks.values()
    assert created.external_task_id is not None and created.external_task_id in text
    assert "kling_get_video_task" in text and "second task" in text
    entry = journal_entry(settings, created.external_task_id)
    assert entry is not None and entry.status == "unknown", "not create_failed: the task exists"
    sandbox.state.inject(query_server_error=0)
    found = await client.call_tool(GET, {"task_id": created.external_task_id, "wait_seconds": 5})
    assert not found.is_error, text_of(found)
    assert _task(found)["task_id"] == created.task_id


@pytest.mark.parametrize("shape", ["no_task_status", "unknown_status", "code_not_int", "no_data"])
async def test_row2_odd_success_envelope_is_never_invalid_input(
    client: Client, sandbox: SandboxServer, shape: str
) -> None:
    sandbox.state.inject(create_odd_envelope=1, odd_envelope=shape)
    result = await client.call_tool(GENERATE, ARGS)
    text = text_of(result)
    _assert_no_false_comfort(text)
    assert not result.is_error, text
    [created] = sandbox.state.tasks.values()
    assert _task(result)["task_id"] == created.task_id
    assert _task(result)["status"] == "succeed"
    assert len(sandbox.state.creates()) == 1


@pytest.mark.parametrize(("odd", "shown"), [("queued", "queued"), (None, "unknown")])
async def test_row3_unknown_status_on_query_is_carried_through(
    client: Client, sandbox: SandboxServer, odd: str | None, shown: str
) -> None:
    sandbox.state.config.run_seconds = 30
    sandbox.state.inject(query_odd_status=10_000, odd_status=odd)
    result = await client.call_tool(GENERATE, {**ARGS, "timeout": 0.2})
    assert not result.is_error, text_of(result)
    task = _task(result)
    assert task["status"] == shown and task["done"] is False
    assert "not finished" in (task["status_message"] or "")
    later = await client.call_tool(GET, {"task_id": task["task_id"]})
    assert not later.is_error, text_of(later)
    assert _task(later)["status"] == shown
    assert task["task_id"] in text_of(later)


# Faults that strike after the create request has left (each: fault settings, HTTP timeout to use).
AFTER_POST: dict[str, dict[str, Any]] = {
    "drop": {"create_drop": 1},
    "slow": {"create_slow": 1, "slow_seconds": 1.0},
    "not_json": {"create_not_json": 1},
    "no_status": {"create_odd_envelope": 1, "odd_envelope": "no_task_status"},
    "code_not_int": {"create_odd_envelope": 1, "odd_envelope": "code_not_int"},
    "no_data": {"create_odd_envelope": 1, "odd_envelope": "no_data"},
    "server_error": {"create_error": 1, "create_error_code": 5000},
    "refused": {"create_error": 1, "create_error_code": 1102},
    "task_fails": {"fail_tasks": 1},
    "lookups_fail": {"query_server_error": 1000},
    "odd_status": {"query_odd_status": 1000, "odd_status": "queued"},
}


@pytest.mark.slow  # 25 runs of several faulted calls each
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(sorted(AFTER_POST)), min_size=1, max_size=3, unique=True))
async def test_property_every_fault_after_the_post_leaves_an_id_that_get_task_resolves(
    server_factory: Callable[..., Any], sandbox: SandboxServer, faults: list[str]
) -> None:
    sandbox.state.reset()
    for name in faults:
        sandbox.state.inject(**AFTER_POST[name])
    async with Client(server_factory(KLING_MCP_HTTP_TIMEOUT=0.5, KLING_MCP_MAX_WAIT=1.5)) as client:
        with anyio.fail_after(30):
            result = await client.call_tool(GENERATE, ARGS)
        text = text_of(result)
        if sandbox.state.tasks:
            _assert_no_false_comfort(text)
        ids = IDS.findall(text)
        assert ids, f"no id in {text!r}"
        sandbox.state.inject(query_server_error=0, query_odd_status=0)
        created = {t.task_id for t in sandbox.state.tasks.values()}
        resolved = []
        for any_id in ids:
            found = await client.call_tool(GET, {"task_id": any_id})
            found_text = text_of(found)
            if not found.is_error:
                resolved.append(_task(found)["task_id"] or _task(found)["external_task_id"])
            elif "failed:" in found_text:  # a failed task is reported as an error naming it
                resolved.extend(t for t in created if t in found_text)
        assert resolved, f"none of {ids} resolved; faults {faults}; text {text!r}"
        if created:
            assert set(resolved) & created, f"ids {ids} do not lead to the task Kling made ({created})"
