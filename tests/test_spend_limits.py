"""Spend limits (issue 22 item 3), with real servers against the sandbox and a real journal: a create that would pass
its owner's limit is refused before anything is sent, with the limit, the spend and when room frees up; Kling's own
charge replaces the estimate once known; two servers sharing one journal cannot both pass the limit, and a restart
forgets nothing; an operator's per-owner limit overrides the default.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from kling_mcp.sandbox.runner import SandboxServer
from kling_mcp.server.build import build_server
from kling_mcp.service.describe.owners import local_owner
from kling_mcp.service.journal import open_journal
from kling_mcp.service.journal.ledger import Spending
from kling_mcp.service.limits.spend import SpendLimitError
from tests.conftest import FAST_RETRY, make_settings, settled_journal_entry, stdio_params, text_of
from tests.names import LIST, MOTION, TEXT

pytestmark = pytest.mark.anyio

# kling-v2-6 pro 5 s with sound: the prior table estimates 5 units (service/prepare/estimates.py: 2.5 × 2 for
# sound); the sandbox charges 3.75 (docs/kling-api.md: 2.5 × 1.5), which later estimates learn.
ARGS: dict[str, Any] = {
    "prompt": "a lantern sways",
    "model": "kling-v2-6",
    "mode": "pro",
    "duration": 5,
    "generate_audio": True,
}
RACE_ESTIMATE = 4.0


def _ids(result: Any) -> str:
    return str(result.structured_content["result"]["task_id"])


async def test_a_create_over_the_limit_is_refused_before_anything_is_sent(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    settings = make_settings(sandbox, tmp_path, KLING_MCP_SPEND_LIMIT=8)
    async with Client(build_server(settings, retry_policy=FAST_RETRY)) as client:
        first = await client.call_tool(TEXT, ARGS)
        assert not first.is_error, text_of(first)
        # Kling's charge (3.75) replaces the estimate (5) once known: 3.75 + 3.75 fits in 8, where 5 + 3.75 would not.
        await settled_journal_entry(settings, _ids(first), "succeed")
        second = await client.call_tool(TEXT, ARGS)
        assert not second.is_error, text_of(second)
        await settled_journal_entry(settings, _ids(second), "succeed")
        third = await client.call_tool(TEXT, ARGS)
    assert third.is_error
    text = text_of(third)
    assert f"{local_owner()} has spent 7.5 of 8 units in the last 24 h (KLING_MCP_SPEND_LIMIT" in text, text
    assert "estimated at 3.75 units" in text and "Room for it frees up at " in text, text
    assert "No request was sent to Kling and nothing was billed" in text
    assert len(sandbox.state.tasks) == 2, "the refused create reached Kling"


async def test_running_tasks_count_at_their_estimate(sandbox: SandboxServer, tmp_path: Path) -> None:
    sandbox.state.config.run_seconds = 30.0  # the first task is still running when the second call comes
    settings = make_settings(sandbox, tmp_path, KLING_MCP_SPEND_LIMIT=9, KLING_MCP_MAX_WAIT=0.2)
    async with Client(build_server(settings, retry_policy=FAST_RETRY)) as client:
        assert not (await client.call_tool(TEXT, ARGS)).is_error
        refused = await client.call_tool(TEXT, ARGS)
    assert refused.is_error and "has spent 5 of 9 units" in text_of(refused), text_of(refused)
    assert len(sandbox.state.tasks) == 1


async def test_two_servers_sharing_a_journal_cannot_both_pass_the_limit_and_a_restart_forgets_nothing(
    sandbox: SandboxServer, tmp_path: Path, shared_journal: str
) -> None:
    settings = make_settings(sandbox, tmp_path, KLING_MCP_SPEND_LIMIT=5, KLING_MCP_JOURNAL=shared_journal)
    results: list[Any] = []
    async with (
        Client(build_server(settings, retry_policy=FAST_RETRY)) as one,
        Client(build_server(settings, retry_policy=FAST_RETRY)) as two,
    ):
        for client in (one, two):  # opens each server's runtime and journal, so the creates below race
            assert not (await client.call_tool(LIST, {})).is_error

        async def call(client: Client) -> None:
            results.append(await client.call_tool(TEXT, ARGS))

        async with anyio.create_task_group() as group:
            for client in (one, two) * 4:
                group.start_soon(call, client)
    passed = [r for r in results if not r.is_error]
    refused = [r for r in results if r.is_error]
    assert len(passed) == 1, [text_of(r) for r in results]
    assert all("Spend limit reached" in text_of(r) for r in refused)
    assert len(sandbox.state.tasks) == 1
    async with Client(build_server(settings, retry_policy=FAST_RETRY)) as restarted:
        again = await restarted.call_tool(TEXT, ARGS)
    assert again.is_error and "Spend limit reached" in text_of(again), text_of(again)
    assert len(sandbox.state.tasks) == 1


@pytest.mark.slow
async def test_two_server_processes_sharing_a_journal_pass_the_limit_once_and_a_third_is_refused(
    sandbox: SandboxServer, tmp_path: Path, shared_journal: str
) -> None:
    # Real processes (`python -m kling_mcp` over stdio), as replicas or two desktop clients on one journal would be.
    settings = make_settings(sandbox, tmp_path, KLING_MCP_JOURNAL=shared_journal)
    params = stdio_params(settings, KLING_MCP_SPEND_LIMIT="5", KLING_MCP_CONFIRM_SPEND="off")
    results: list[Any] = []
    async with Client(params) as one, Client(params) as two:
        for client in (one, two):  # each process opens its journal before the creates race
            assert not (await client.call_tool(LIST, {})).is_error

        async def call(client: Client) -> None:
            results.append(await client.call_tool(TEXT, ARGS))

        async with anyio.create_task_group() as group:
            for client in (one, two) * 3:
                group.start_soon(call, client)
    assert [r.is_error for r in results].count(False) == 1, [text_of(r) for r in results]
    assert all("Spend limit reached" in text_of(r) for r in results if r.is_error)
    async with Client(params) as third:
        again = await third.call_tool(TEXT, ARGS)
    assert again.is_error and "Spend limit reached" in text_of(again), text_of(again)
    assert len(sandbox.state.tasks) == 1


async def test_an_operators_limit_for_one_owner_overrides_the_default(sandbox: SandboxServer, tmp_path: Path) -> None:
    settings = make_settings(sandbox, tmp_path)  # no default limit
    journal = open_journal(settings.resolved_journal())
    try:
        journal.set_spend_limit(local_owner(), 4.0)
        assert journal.spend_limits() == {local_owner(): 4.0}
    finally:
        journal.close()
    async with Client(build_server(settings, retry_policy=FAST_RETRY)) as client:
        refused = await client.call_tool(TEXT, ARGS)
    text = text_of(refused)
    assert refused.is_error and f"the operator's limit for {local_owner()}" in text, text
    assert "This create alone is over the limit" in text
    assert sandbox.state.tasks == {}


@pytest.mark.parametrize(
    ("spent_at", "estimate", "frees_after"),
    [
        # limit 10, three charges of 4 an hour apart (12 spent): a 2-unit create fits once the first (4) leaves.
        ((0.0, 3600.0, 7200.0), 2.0, 0.0),
        # a 5-unit create needs 7 freed: the first two must leave.
        ((0.0, 3600.0, 7200.0), 5.0, 3600.0),
    ],
)
def test_room_frees_up_when_enough_charges_leave_the_window(
    spent_at: tuple[float, ...], estimate: float, frees_after: float
) -> None:
    start = 1_000_000.0
    charges = tuple((start + at, 4.0) for at in spent_at)
    spending = Spending("token:alice", 10.0, 12.0, charges)
    assert spending.frees_at(estimate) == start + frees_after + 24 * 3600
    error = SpendLimitError(spending, estimate, now=start + 7300)
    assert "token:alice has spent 12 of 10 units" in str(error)


def test_no_limit_allows_anything() -> None:
    spending = Spending("token:alice", None, 1e9, ())
    assert spending.allows(1e9) and spending.frees_at(1.0) is None
    assert time.time() > 0


def test_racing_intents_on_two_journal_connections_pass_the_limit_once(shared_journal: str) -> None:
    """Two journals open on one database (two replicas), eight threads checking at once: one intent is written."""
    import threading

    from kling_mcp.service.journal import JournalEntry
    from kling_mcp.service.journal.ledger import SpendCheck, SpendLimitReached

    journals = [open_journal(shared_journal) for _ in range(2)]
    barrier = threading.Barrier(8)
    written: list[str] = []

    def intent(i: int) -> None:
        entry = JournalEntry(f"kmcp-race-{i}", "text2video", "kling-v2-6", "p", owner="token:alice")
        barrier.wait()
        try:
            journals[i % 2].record_intent(entry, SpendCheck(5.0, RACE_ESTIMATE))
            written.append(entry.external_task_id)
        except SpendLimitReached:
            pass

    threads = [threading.Thread(target=intent, args=(i,)) for i in range(8)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(written) == 1, written
        assert journals[0].spending("token:alice", 5.0, window=24 * 3600).spent == RACE_ESTIMATE
    finally:
        for journal in journals:
            journal.close()


def test_the_operator_sets_and_clears_an_owners_limit_with_the_command(
    sandbox: SandboxServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from kling_mcp.cli.limits import run_spend_limit

    settings = make_settings(sandbox, tmp_path, KLING_MCP_SPEND_LIMIT=50)
    assert run_spend_limit(settings, "token:ci", 500.0) == 0
    assert "token:ci: 500 units per 24 h" in capsys.readouterr().out
    journal = open_journal(settings.resolved_journal())
    try:
        assert journal.spending("token:ci", 50.0, window=24 * 3600).limit == 500.0
        assert run_spend_limit(settings, "token:ci", None, clear=True) == 0
        assert journal.spending("token:ci", 50.0, window=24 * 3600).limit == 50.0
    finally:
        journal.close()
    assert run_spend_limit(settings, "token:ci", -1.0) == 2


def _motion(seconds: int) -> dict[str, Any]:
    return {
        "image_url": "https://images.example.com/dancer.png",
        "video_url": f"https://videos.example.com/sandbox/reference/{seconds}s.mp4",
        "character_orientation": "video",
        "timeout": 20,
    }


async def test_a_short_motion_reference_does_not_let_long_ones_pass_the_limit(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    """The auditor's probe (issue 22): after a 3 s reference (charged 0.9), ten concurrent 30 s creates (charged 9
    each) with a limit of 10. Priced per second (30 × 0.3 = 9 each), one fits and nine are refused; Kling's bill
    stays within the limit. A median of whole charges priced each at 0.9 and let all ten through (90.9 charged)."""
    settings = make_settings(sandbox, tmp_path, KLING_MCP_SPEND_LIMIT=10, KLING_MCP_CONFIRM_SPEND="off")
    results: list[Any] = []
    async with Client(build_server(settings, retry_policy=FAST_RETRY)) as client:
        first = await client.call_tool(MOTION, _motion(3))
        await settled_journal_entry(settings, first.structured_content["result"]["task_id"], "succeed")

        async def one() -> None:
            results.append(await client.call_tool(MOTION, _motion(30)))

        async with anyio.create_task_group() as group:
            for _ in range(10):
                group.start_soon(one)
        created = [r for r in results if not r.is_error]
        for result in created:
            await settled_journal_entry(settings, result.structured_content["result"]["task_id"], "succeed")
    assert len(created) == 1 and created[0].structured_content["result"]["estimated_units"] == 9
    assert all("Spend limit reached" in text_of(r) for r in results if r.is_error)
    assert len(sandbox.state.creates()) == 2  # Kling charged 0.9 + 9
    journal = open_journal(settings.resolved_journal())
    try:
        assert journal.spending(local_owner(), 10.0, window=86400).spent == pytest.approx(9.9)
    finally:
        journal.close()
