"""Every paid task reaches the caller or the journal, and no tool call ever makes two tasks."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from kling_mcp.config import Settings
from kling_mcp.sandbox.runner import SandboxServer
from tests.conftest import journal_entries, journal_entry, stdio_params, text_of
from tests.names import GENERATE

pytestmark = pytest.mark.anyio

ARGS = {"prompt": "a kite over the dunes", "start_image_url": "https://images.example.com/kite.png"}


def _task(result: Any) -> dict[str, Any]:
    assert result.structured_content is not None, text_of(result)
    task: dict[str, Any] = result.structured_content["result"]
    return task


@pytest.mark.slow  # 1.5 s slow creates
async def test_concurrent_calls_under_mixed_faults_each_make_exactly_one_task(
    server_factory: Callable[..., Any], sandbox: SandboxServer
) -> None:
    calls = 16
    sandbox.state.inject(
        create_error=3,
        create_drop=3,
        create_slow=2,
        slow_seconds=1.5,
        rate_limit=4,
        retry_after=0.05,
        query_server_error=4,
        token_expired=2,
    )
    results: list[Any] = [None] * calls
    async with Client(server_factory(KLING_MCP_HTTP_TIMEOUT=1)) as client:

        async def one(i: int) -> None:
            results[i] = await client.call_tool(GENERATE, {**ARGS, "prompt": f"kite {i}"})

        async with anyio.create_task_group() as tg:
            for i in range(calls):
                tg.start_soon(one, i)
    for result in results:
        assert not result.is_error, text_of(result)
        assert _task(result)["status"] == "succeed"
    task_ids = {_task(r)["task_id"] for r in results}
    assert len(task_ids) == calls
    assert len(sandbox.state.tasks) == calls, "duplicates: the sandbox holds more tasks than calls"
    assert task_ids == set(sandbox.state.tasks)
    assert len(sandbox.state.creates()) > calls, "the faults should have forced retries"
    external_ids = {t.external_task_id for t in sandbox.state.tasks.values()}
    assert len(external_ids) == calls and None not in external_ids


async def test_dropped_create_is_adopted_not_duplicated(client: Client, sandbox: SandboxServer) -> None:
    sandbox.state.inject(create_drop=1)
    result = await client.call_tool(GENERATE, ARGS)
    assert not result.is_error, text_of(result)
    assert len(sandbox.state.tasks) == 1
    [task] = sandbox.state.tasks.values()
    assert _task(result)["task_id"] == task.task_id
    assert len(sandbox.state.creates()) == 1, "the lost answer is looked up, never re-sent"
    lookups = [r for r in sandbox.state.requests if r.method == "GET" and r.path.endswith(task.external_task_id or "?")]
    assert lookups, "the task was found by its external_task_id"


@pytest.mark.slow  # waits out a 1.5 s create
async def test_create_answer_slower_than_http_timeout_is_adopted(
    server_factory: Callable[..., Any], sandbox: SandboxServer
) -> None:
    sandbox.state.inject(create_slow=1, slow_seconds=1.5)
    async with Client(server_factory(KLING_MCP_HTTP_TIMEOUT=0.5)) as client:
        result = await client.call_tool(GENERATE, ARGS)
    assert not result.is_error, text_of(result)
    assert len(sandbox.state.tasks) == 1
    assert len(sandbox.state.creates()) == 1


async def test_server_error_on_create_is_retried_once_nothing_was_created(
    client: Client, sandbox: SandboxServer
) -> None:
    sandbox.state.inject(create_error=2, create_error_code=5001)
    result = await client.call_tool(GENERATE, ARGS)
    assert not result.is_error, text_of(result)
    assert len(sandbox.state.tasks) == 1
    assert len(sandbox.state.creates()) == 3


async def test_resource_pack_used_up_is_not_retried_and_says_what_to_do(
    client: Client, sandbox: SandboxServer, settings: Settings
) -> None:
    sandbox.state.inject(create_error=1, create_error_code=1102)
    result = await client.call_tool(GENERATE, ARGS)
    assert result.is_error
    text = text_of(result)
    assert "1102" in text and "resource pack" in text and "request_id" in text
    assert len(sandbox.state.creates()) == 1
    assert sandbox.state.tasks == {}
    [entry] = journal_entries(settings)
    assert entry.status == "create_failed" and entry.task_id is None


async def test_rate_limit_waits_for_retry_after(client: Client, sandbox: SandboxServer) -> None:
    sandbox.state.inject(rate_limit=1, retry_after=0.1)
    result = await client.call_tool(GENERATE, ARGS)
    assert not result.is_error, text_of(result)
    first, second = sandbox.state.creates()[:2]
    assert second.at - first.at >= 0.1, "Retry-After was not honoured (the backoff alone is 0.02 s)"
    assert len(sandbox.state.tasks) == 1


async def test_query_errors_do_not_fail_a_paid_task(client: Client, sandbox: SandboxServer) -> None:
    sandbox.state.inject(query_server_error=5)
    result = await client.call_tool(GENERATE, ARGS)
    assert not result.is_error, text_of(result)
    assert _task(result)["status"] == "succeed"


async def test_failed_task_is_never_retried(client: Client, sandbox: SandboxServer) -> None:
    sandbox.state.inject(fail_tasks=1)
    result = await client.call_tool(GENERATE, ARGS)
    assert result.is_error
    assert "risk control" in text_of(result)
    assert len(sandbox.state.creates()) == 1


@pytest.mark.slow  # waits out a 1.5 s task
async def test_timeout_returns_the_task_id_and_get_task_later_returns_the_video(
    client: Client, sandbox: SandboxServer
) -> None:
    sandbox.state.config.run_seconds = 1.5
    result = await client.call_tool(GENERATE, {**ARGS, "timeout": 0.3})
    assert not result.is_error, "a timeout is not a failure: an error would invite a paid retry"
    task = _task(result)
    assert task["status"] in ("submitted", "processing")
    assert task["done"] is False and task["task_id"]
    assert "kling_get_video_task" in task["next_step"] and "kling_get_video_task" in text_of(result)
    later = await client.call_tool("kling_get_video_task", {"task_id": task["task_id"], "wait_seconds": 10})
    assert not later.is_error, text_of(later)
    done = _task(later)
    assert done["status"] == "succeed" and done["videos"]
    assert done["model"] == "kling-v2-master"
    assert len(sandbox.state.tasks) == 1


async def test_get_task_accepts_the_external_id(client: Client) -> None:
    result = await client.call_tool(GENERATE, ARGS)
    external = _task(result)["external_task_id"]
    again = await client.call_tool("kling_get_video_task", {"task_id": external})
    assert _task(again)["task_id"] == _task(result)["task_id"]


async def test_default_call_returns_within_the_server_cap(
    server_factory: Callable[..., Any], sandbox: SandboxServer
) -> None:
    sandbox.state.config.run_seconds = 30
    async with Client(server_factory(KLING_MCP_MAX_WAIT=0.2)) as client:
        started = time.monotonic()
        result = await client.call_tool(GENERATE, ARGS)  # default timeout 300 s, capped at 0.2 s
        elapsed = time.monotonic() - started
    assert not result.is_error, text_of(result)
    assert _task(result)["task_id"] in sandbox.state.tasks
    assert elapsed < 5, f"the call blocked {elapsed:.1f} s past a 0.2 s cap"


async def test_unknown_create_outcome_is_journaled_and_recoverable(
    client: Client, sandbox: SandboxServer, settings: Settings
) -> None:
    sandbox.state.inject(create_drop=1, query_server_error=1000)
    result = await client.call_tool(GENERATE, ARGS)
    assert result.is_error
    text = text_of(result)
    assert "kling_get_video_task" in text and "kmcp-" in text
    assert len(sandbox.state.tasks) == 1, "the task exists at Kling even though its answer was lost"
    assert len(sandbox.state.creates()) == 1, "never re-sent while the outcome is unknown"
    [created] = sandbox.state.tasks.values()
    external = created.external_task_id
    assert external is not None and external in text
    entry = journal_entry(settings, external)
    assert entry is not None and entry.status == "unknown"
    sandbox.state.inject(query_server_error=0)
    found = await client.call_tool("kling_get_video_task", {"task_id": external, "wait_seconds": 5})
    assert not found.is_error, text_of(found)
    assert _task(found)["task_id"] == created.task_id
    assert _task(found)["status"] == "succeed"


async def test_unknown_task_id_is_a_clear_error(client: Client) -> None:
    result = await client.call_tool("kling_get_video_task", {"task_id": "no-such-task"})
    assert result.is_error
    assert "No task with id 'no-such-task'" in text_of(result)
    assert text_of(result).endswith("Use kling_list_video_tasks to see recent tasks.")  # worded by the server layer


@pytest.mark.slow  # two server processes
async def test_cancelled_call_keeps_its_task_and_a_new_process_lists_it(
    settings: Settings, sandbox: SandboxServer
) -> None:
    sandbox.state.config.run_seconds = 2.0
    async with Client(stdio_params(settings), mode="legacy") as client:
        with anyio.move_on_after(0.8):
            await client.call_tool(GENERATE, ARGS)
            pytest.fail("the call should still be waiting")
        assert len(sandbox.state.tasks) == 1
        await anyio.sleep(0.3)
        queries_after_cancel = len(sandbox.state.requests)
        await anyio.sleep(1.0)
        assert len(sandbox.state.requests) == queries_after_cancel, "polling went on after the call was cancelled"
    [task_id] = sandbox.state.tasks
    async with Client(stdio_params(settings), mode="legacy") as fresh:
        listed = await fresh.call_tool("kling_list_video_tasks", {})
    assert not listed.is_error, text_of(listed)
    assert listed.structured_content is not None
    [entry] = listed.structured_content["result"]
    assert entry["task_id"] == task_id
    assert entry["status"] in ("submitted", "processing")


async def test_list_filters_by_status(client: Client, sandbox: SandboxServer) -> None:
    sandbox.state.inject(fail_tasks=1)
    await client.call_tool(GENERATE, ARGS)
    await client.call_tool(GENERATE, ARGS)
    listed = await client.call_tool("kling_list_video_tasks", {"status": "failed"})
    assert listed.structured_content is not None
    assert [t["status"] for t in listed.structured_content["result"]] == ["failed"]
    everything = await client.call_tool("kling_list_video_tasks", {"limit": 10})
    assert everything.structured_content is not None
    assert len(everything.structured_content["result"]) == 2


async def test_retries_are_logged_at_debug_with_their_reason(
    client: Client, sandbox: SandboxServer, caplog: pytest.LogCaptureFixture
) -> None:
    sandbox.state.inject(create_error=1, create_error_code=5000)
    with caplog.at_level(logging.DEBUG, logger="kling_mcp"):
        result = await client.call_tool(GENERATE, ARGS)
    assert not result.is_error
    reasons = [r.getMessage() for r in caplog.records if r.name == "kling_mcp.api.retry"]
    assert any("KlingServerError" in m and "5000" in m for m in reasons), reasons


async def test_wrap_up_answers_waiting_calls_with_their_task_ids(sandbox: SandboxServer, tmp_path: Path) -> None:
    """What shutdown does after its grace period: every waiting call returns its task id, as a normal result."""
    from kling_mcp.server.build import build_server
    from kling_mcp.server.context import AppContext
    from tests.conftest import FAST_RETRY, make_settings

    sandbox.state.config.run_seconds = 60
    contexts: list[AppContext] = []
    server = build_server(make_settings(sandbox, tmp_path), retry_policy=FAST_RETRY, on_context=contexts.append)
    results: list[Any] = []
    async with Client(server) as client:

        async def one(i: int) -> None:
            results.append(await client.call_tool(GENERATE, {**ARGS, "prompt": f"long {i}"}))

        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                for i in range(3):
                    tg.start_soon(one, i)
                while len(sandbox.state.tasks) < 3:
                    await anyio.sleep(0.02)
                await anyio.sleep(0.2)
                assert sum(c.wrap_up() for c in contexts) == 3
        late = await client.call_tool(GENERATE, ARGS)  # after wrap-up: created, then answered at once
    assert all(not r.is_error for r in [*results, late])
    answered = {_task(r)["task_id"] for r in [*results, late]}
    assert answered == set(sandbox.state.tasks)
    assert all(_task(r)["status"] in ("submitted", "processing") for r in [*results, late])
