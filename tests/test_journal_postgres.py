"""What only the PostgreSQL journal has to get right: database restarts, and never showing its password."""

from __future__ import annotations

import logging
from pathlib import Path

import anyio
import pytest
from mcp import Client

from kling_mcp.config import Settings
from kling_mcp.sandbox.runner import SandboxServer
from kling_mcp.server.build import build_server
from kling_mcp.service.journal import JournalConnectionError, JournalEntry, JournalError, open_journal
from tests.conftest import FAST_RETRY, make_settings, text_of
from tests.names import GENERATE
from tests.pg_cluster import Cluster
from tests.test_cli import run_cli

pytestmark = pytest.mark.slow


IMAGE = "https://example.com/a.png"


def _entry(external: str) -> JournalEntry:
    return JournalEntry(external_task_id=external, endpoint="image2video", model="kling-v2-6", prompt="p")


def test_the_pool_reconnects_after_a_restart_and_a_write_during_the_outage_fails_cleanly(
    pg_cluster: Cluster, pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    journal = open_journal(pg_url)
    try:
        journal.record_intent(_entry("before"))
        pg_cluster.stop()
        try:
            with caplog.at_level(logging.DEBUG), pytest.raises(JournalConnectionError) as refused:
                journal.record_intent(_entry("during"))
        finally:
            pg_cluster.start()
        journal.record_intent(_entry("after"))  # every pooled connection died with the server: new ones are made
        assert [e.external_task_id for e in journal.recent()] == ["after", "before"]
    finally:
        journal.close()
    assert "127.0.0.1" in str(refused.value)
    assert pg_cluster.password not in str(refused.value)
    assert pg_cluster.password not in caplog.text


def test_a_wrong_password_is_a_clear_error_that_does_not_repeat_it(pg_cluster: Cluster) -> None:
    wrong = "not-the-password-0123"
    with pytest.raises(JournalConnectionError) as refused:
        open_journal(pg_cluster.url().replace(pg_cluster.password, wrong))
    text = str(refused.value)
    assert "password authentication failed" in text and "postgresql://kmcp@127.0.0.1" in text
    assert wrong not in text


def test_where_names_the_database_without_the_password(pg_cluster: Cluster, pg_url: str) -> None:
    journal = open_journal(pg_url)
    try:
        assert journal.where == pg_url.replace(f":{pg_cluster.password}", "")
    finally:
        journal.close()


@pytest.mark.usefixtures("sandbox")
def test_check_names_the_database_and_never_prints_the_password(
    settings: Settings, pg_cluster: Cluster, pg_url: str, tmp_path: Path
) -> None:
    good = run_cli(settings, tmp_path, "check", KLING_MCP_JOURNAL=pg_url)
    assert good.returncode == 0, good.stdout + good.stderr
    assert f"task journal: {pg_url.replace(f':{pg_cluster.password}', '')}" in good.stdout
    bad = run_cli(settings, tmp_path, "check", KLING_MCP_JOURNAL=pg_url.replace(pg_cluster.password, "nope-1234"))
    assert bad.returncode == 1
    assert "password authentication failed" in bad.stdout
    for output in (good.stdout, good.stderr, bad.stdout, bad.stderr):
        assert pg_cluster.password not in output and "nope-1234" not in output


@pytest.mark.anyio
async def test_a_database_restart_in_the_middle_of_a_soak_loses_and_doubles_nothing(
    pg_cluster: Cluster, pg_url: str, sandbox: SandboxServer, tmp_path: Path
) -> None:
    """Calls keep coming while the database restarts: every created task reaches its caller and the journal once."""
    sandbox.state.config.run_seconds = 1.0
    settings = make_settings(sandbox, tmp_path, KLING_MCP_JOURNAL=pg_url)
    texts: list[str] = []
    async with Client(build_server(settings, retry_policy=FAST_RETRY)) as client:

        async def one(i: int) -> None:
            result = await client.call_tool(GENERATE, {"prompt": f"soak {i}", "start_image_url": IMAGE, "timeout": 20})
            texts.append(text_of(result))

        async with anyio.create_task_group() as tg:
            for i in range(24):
                tg.start_soon(one, i)
                await anyio.sleep(0.1)
                if i == 8:
                    tg.start_soon(anyio.to_thread.run_sync, pg_cluster.restart)
    created = {task.task_id: task.external_task_id for task in sandbox.state.tasks.values()}
    assert created and sandbox.state.duplicate_creates == 0
    assert len(sandbox.state.creates()) == len(created), "a create was sent twice"
    everything_said = "\n".join(texts)
    journal = open_journal(pg_url)
    try:
        journaled = {e.task_id for e in journal.recent(limit=1000)}
    finally:
        journal.close()
    for task_id, external in created.items():
        assert task_id in everything_said or str(external) in everything_said, f"task {task_id} never reached a caller"
        assert task_id in journaled, f"task {task_id} is not in the journal"


@pytest.mark.anyio
async def test_with_the_database_down_a_generate_call_is_refused_before_anything_is_sent(
    pg_cluster: Cluster, pg_url: str, sandbox: SandboxServer, tmp_path: Path
) -> None:
    settings = make_settings(sandbox, tmp_path, KLING_MCP_JOURNAL=pg_url)
    async with Client(build_server(settings, retry_policy=FAST_RETRY)) as client:
        assert not (await client.call_tool("kling_list_video_tasks", {})).is_error  # the journal is open
        pg_cluster.stop()
        try:
            result = await client.call_tool(GENERATE, {"prompt": "x", "start_image_url": IMAGE, "timeout": 5})
        finally:
            pg_cluster.start()
    assert result.is_error
    assert sandbox.state.creates() == [], "a task the journal could not record must not be created"
    assert pg_cluster.password not in text_of(result)


def _read_only(url: str) -> None:
    """New sessions of the database refuse writes, as on a hot standby (existing sessions keep writing)."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"ALTER DATABASE {conninfo_to_dict(url)['dbname']} SET default_transaction_read_only = on")


@pytest.mark.anyio
async def test_a_read_only_database_is_refused_before_anything_is_sent_and_named_as_such(
    pg_url: str, sandbox: SandboxServer, tmp_path: Path
) -> None:
    open_journal(pg_url).close()  # the tables exist; from now on the database takes no writes
    _read_only(pg_url)
    settings = make_settings(sandbox, tmp_path, KLING_MCP_JOURNAL=pg_url)
    async with Client(build_server(settings, retry_policy=FAST_RETRY)) as client:
        result = await client.call_tool(GENERATE, {"prompt": "x", "start_image_url": IMAGE, "timeout": 5})
    assert result.is_error
    assert sandbox.state.creates() == [], "a task the journal could not record must not be created"
    text = text_of(result)
    assert "read-only" in text and "read-only transaction" in text, text  # our kind, and PostgreSQL's own words
    assert "the primary" in text, text  # advice for a database, not for a file


@pytest.mark.usefixtures("sandbox")
def test_check_says_a_read_only_database_cannot_take_the_journal(
    settings: Settings, pg_cluster: Cluster, pg_url: str, tmp_path: Path
) -> None:
    open_journal(pg_url).close()
    _read_only(pg_url)
    checked = run_cli(settings, tmp_path, "check", KLING_MCP_JOURNAL=pg_url)
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert "✗ task journal:" in checked.stdout and "(read-only)" in checked.stdout, checked.stdout
    assert "Traceback" not in checked.stderr and pg_cluster.password not in checked.stdout + checked.stderr


def test_a_lock_held_by_another_session_makes_a_write_fail_as_locked_after_the_wait(pg_url: str) -> None:
    import time

    import psycopg

    journal = open_journal(pg_url, write_wait=1.0)
    try:
        with psycopg.connect(pg_url) as other:  # not autocommit: the lock lasts until this block ends
            other.execute("LOCK TABLE tasks IN ACCESS EXCLUSIVE MODE")
            started = time.monotonic()
            with pytest.raises(JournalError) as refused:
                journal.record_intent(_entry("blocked"))
            waited = time.monotonic() - started
        assert refused.value.problem.kind == "locked"
        assert "pg_stat_activity" in refused.value.problem.advice
        # Given up once the 1 s wait passed: not replayed as if the connection had died (2 s), not left hanging.
        assert 0.9 < waited < 1.9, f"{waited:.2f} s"
        journal.record_intent(_entry("after"))  # the lock is gone: the same journal writes again
        assert [e.external_task_id for e in journal.recent()] == ["after"]
    finally:
        journal.close()
