"""Issue #26 items 19-21: the journal down, or asked to hold more than it should (a secret, a password).

19: a lookup while the journal cannot be read still asks Kling and never denies a task that exists.
20: a write after a create is kept until the journal takes it, however long it is down, in bounded memory; the
    start-up sweep of open intents waits for the journal instead of being skipped.
21: nothing secret rests in the journal: status messages and image URLs are scrubbed, and a new file is private.

The outage is real: the journal's folder is moved away and a file put in its place, so every open fails
("unavailable", like a stopped database), until the folder is put back.
"""

from __future__ import annotations

import stat
from contextlib import AsyncExitStack
from functools import partial
from pathlib import Path

import anyio
import pytest

from kling_mcp.api.models import Task
from kling_mcp.config import Settings
from kling_mcp.sandbox.runner import SandboxServer
from kling_mcp.server.context import options_from
from kling_mcp.server.runtime import open_runtime
from kling_mcp.service.create.creating import Approval
from kling_mcp.service.create.recorder import MAX_UNCLASSIFIED_FAILURES, JournalRecorder
from kling_mcp.service.describe.owners import Viewer
from kling_mcp.service.failures import OwnerUncheckedError, TaskNotFoundError
from kling_mcp.service.journal import NEVER_CREATED, UNKNOWN, JournalEntry, open_journal
from kling_mcp.service.journal.reopening import ReopeningJournal
from kling_mcp.service.prepare.estimates import profile_of
from kling_mcp.service.prepare.image_request import VideoRequest
from tests.conftest import FAST_RETRY, make_settings, text_of
from tests.http_support import TOKEN, connect, run_server
from tests.names import GET
from tests.pg_cluster import Cluster

pytestmark = pytest.mark.anyio

ARGS = {"prompt": "a paper boat on a puddle", "start_image_url": "https://images.example.com/boat.png"}


def _gets(sandbox: SandboxServer) -> int:
    return sum(1 for r in sandbox.state.requests if r.method == "GET")


async def _made_task(settings: Settings) -> str:
    async with AsyncExitStack() as stack:
        runtime = await open_runtime(settings, options_from(settings), stack, FAST_RETRY)
        request = VideoRequest.model_validate({**ARGS, "timeout": 5})
        approval = Approval(await runtime.service.estimate(profile_of(request)), "test")
        outcome = await runtime.service.generate(request, approval=approval, viewer=Viewer(owner="oauth:al"))
        assert outcome.result.task_id is not None
        return outcome.result.task_id


@pytest.mark.parametrize("sees_all", [False, True], ids=["owner", "admin"])
async def test_19_a_lookup_while_the_journal_cannot_be_opened_asks_kling_and_never_denies_the_task(
    sandbox: SandboxServer, settings: Settings, tmp_path: Path, sees_all: bool
) -> None:
    task_id = await _made_task(settings)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the journal's folder should be")
    broken = make_settings(sandbox, tmp_path, KLING_MCP_JOURNAL=str(blocker / "journal.sqlite3"))
    async with AsyncExitStack() as stack:
        runtime = await open_runtime(broken, options_from(broken), stack, FAST_RETRY)
        viewer = Viewer("oauth:al", sees_all=sees_all)
        before = _gets(sandbox)
        if sees_all:
            outcome = await runtime.service.get(task_id, viewer=viewer)
            assert outcome.result.task_id == task_id and outcome.result.status == "succeed"
            assert outcome.result.journal_warning and "could not be used" in outcome.result.journal_warning
        else:
            # Over HTTP with tokens (no admin scope) this answered "No task with id ..." without asking Kling.
            with pytest.raises(OwnerUncheckedError) as raised:
                await runtime.service.get(task_id, viewer=viewer)
            text = str(raised.value)
            assert "Kling has a task" in text and "do not create it again" in text and "could not be used" in text
            assert "No task" not in text
        assert _gets(sandbox) > before, "Kling was not asked"
        with pytest.raises(TaskNotFoundError) as unknown:
            await runtime.service.get("no-such-task", viewer=viewer)
        assert "not consulted" in str(unknown.value) and "could not be used" in str(unknown.value)


@pytest.mark.slow  # starts a server process
async def test_19_over_http_with_a_token_a_task_kling_has_is_not_denied_while_the_journal_cannot_be_opened(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    task = sandbox.state.add_task("image2video", {"model_name": "kling-v2-1", "external_task_id": "kmcp-http"})
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the journal's folder should be")
    settings = make_settings(sandbox, tmp_path, KLING_MCP_JOURNAL=str(blocker / "journal.sqlite3"))
    with run_server(settings, tmp_path, KLING_MCP_AUTH_TOKEN=TOKEN) as server:
        async with connect(server.mcp_url) as client:
            before = _gets(sandbox)
            for any_id in (task.task_id, "kmcp-http"):
                result = await client.call_tool(GET, {"task_id": any_id})
                assert result.is_error
                assert "Kling has a task" in text_of(result) and "No task" not in text_of(result), text_of(result)
            assert _gets(sandbox) > before


class Outage:
    """A journal file whose folder can be taken away (every open fails) and put back."""

    def __init__(self, tmp_path: Path) -> None:
        self.folder = tmp_path / "journal"
        self.path = self.folder / "journal.sqlite3"
        self._aside = tmp_path / "journal-aside"

    def intent(self, external_task_id: str, *, kling_host: str | None = None) -> None:
        journal = open_journal(self.path)
        entry = JournalEntry(
            external_task_id=external_task_id,
            endpoint="image2video",
            model="kling-v2-1",
            prompt="p",
            kling_host=kling_host,
        )
        journal.record_intent(entry)
        journal.close()

    def begin(self) -> None:
        self.folder.rename(self._aside)
        self.folder.write_text("not a folder")

    def end(self) -> None:
        self.folder.unlink()
        self._aside.rename(self.folder)

    def status(self, any_id: str) -> str | None:
        journal = open_journal(self.path)
        try:
            entry = journal.get(any_id)
            return entry.status if entry else None
        finally:
            journal.close()


async def test_20_a_write_after_the_create_is_kept_until_the_journal_is_back_however_long(tmp_path: Path) -> None:
    outage = Outage(tmp_path)
    outage.intent("kmcp-kept")
    outage.begin()
    journal = ReopeningJournal(partial(open_journal, outage.path), str(outage.path))
    recorder = JournalRecorder(journal)
    warning = await recorder.write("kmcp-kept", partial(journal.record_status, "kmcp-kept", UNKNOWN, "outcome unknown"))
    assert warning is not None and "keeps retrying" in warning
    for _ in range(MAX_UNCLASSIFIED_FAILURES * 3):  # ~45 s of background retries at 5 s each: it used to drop it
        assert recorder.flush() == 1
    outage.end()
    assert recorder.flush() == 0
    assert outage.status("kmcp-kept") == UNKNOWN
    journal.close()


@pytest.mark.slow  # stops and starts a PostgreSQL server
async def test_20_a_write_kept_through_a_postgresql_outage_lands_when_the_database_is_back(
    pg_cluster: Cluster, pg_url: str
) -> None:
    from kling_mcp.service.journal.postgres import PostgresJournal

    journal = PostgresJournal(pg_url, timeout=0.5)
    try:
        journal.record_intent(JournalEntry(external_task_id="kmcp-pg", endpoint="image2video", model="m", prompt="p"))
        recorder = JournalRecorder(journal)
        pg_cluster.stop()
        try:
            warning = await recorder.write("kmcp-pg", partial(journal.record_status, "kmcp-pg", UNKNOWN, "m"))
            assert warning is not None and "keeps retrying" in warning
            for _ in range(MAX_UNCLASSIFIED_FAILURES * 2):
                assert recorder.flush() == 1
        finally:
            pg_cluster.start()
        with anyio.fail_after(30):  # the pool reconnects with a backoff: the background thread's next rounds
            while recorder.flush():
                await anyio.sleep(0.2)
        entry = journal.get("kmcp-pg")
        assert entry is not None and entry.status == UNKNOWN
    finally:
        journal.close()


async def test_20_memory_is_bounded_by_dropping_status_refreshes_never_a_created_task_s_write(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    outage = Outage(tmp_path)
    outage.intent("kmcp-created")
    outage.begin()
    journal = ReopeningJournal(partial(open_journal, outage.path), str(outage.path))
    recorder = JournalRecorder(journal, max_pending=3)
    landed: list[str] = []

    def refresh(name: str) -> None:  # a status seen by a lookup: a journal write, like the real ones
        journal.record_status(name, UNKNOWN, None)
        landed.append(name)

    recorder.defer("refresh-0", partial(refresh, "refresh-0"))
    await recorder.write("kmcp-created", partial(journal.record_status, "kmcp-created", UNKNOWN, "m"))
    for i in range(1, 6):
        recorder.defer(f"refresh-{i}", partial(refresh, f"refresh-{i}"))
    recorder.defer("adopted", partial(refresh, "adopted"), essential=True)
    assert recorder.dropped == 5
    assert "dropped the oldest status refresh" in caplog.text
    outage.end()
    assert recorder.flush() == 0
    assert landed == ["refresh-0", "adopted"]
    assert outage.status("kmcp-created") == UNKNOWN
    journal.close()


async def test_20_a_write_the_journal_refuses_while_it_answers_is_still_dropped(tmp_path: Path) -> None:
    # The other side of the rule: a write at fault (the journal answers, the write fails) must not block the rest.
    journal = open_journal(tmp_path / "journal.sqlite3")
    recorder = JournalRecorder(journal)

    def broken() -> None:
        raise ValueError("a bug in one write")

    done: list[str] = []
    recorder.defer("broken", broken)
    recorder.defer("next", partial(done.append, "next"))
    for _ in range(MAX_UNCLASSIFIED_FAILURES - 1):
        assert recorder.flush() == 2
    assert recorder.flush() == 0 and done == ["next"]
    journal.close()


# The shortest grace the settings allow (KLING_MCP_HTTP_TIMEOUT × 6 attempts): 0.6 s.
QUICK_GRACE: dict[str, object] = {"KLING_MCP_HTTP_TIMEOUT": 0.1, "KLING_MCP_STALE_INTENT_AFTER": 0.6}


async def test_20_the_start_up_sweep_waits_for_the_journal_instead_of_skipping(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    outage = Outage(tmp_path)
    outage.intent("kmcp-open", kling_host=sandbox.url)
    outage.begin()
    settings = make_settings(sandbox, tmp_path, KLING_MCP_JOURNAL=str(outage.path), **QUICK_GRACE)
    async with AsyncExitStack() as stack:
        runtime = await open_runtime(settings, options_from(settings), stack, FAST_RETRY)
        resolved: list[int] = []

        async def sweep() -> None:
            resolved.append(await runtime.service.intents.sweep(retry_interval=0.02))

        async with anyio.create_task_group() as group:
            group.start_soon(sweep)
            await anyio.sleep(0.7)  # several failed attempts, and the intent is past its grace
            assert resolved == []
            outage.end()
            with anyio.fail_after(5):
                while not resolved:
                    await anyio.sleep(0.02)
        assert resolved == [1]
        assert runtime.service.recorder.flush() == 0
    assert outage.status("kmcp-open") == NEVER_CREATED


JWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJhayJ9.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg"


def test_21_no_jwt_and_no_url_password_is_written_to_the_journal(shared_journal: str) -> None:
    journal = open_journal(shared_journal)
    try:
        journal.record_intent(
            JournalEntry(
                external_task_id="kmcp-secret",
                endpoint="image2video",
                model="kling-v2-1",
                prompt="p",
                start_image="https://alice:s3cret-pass@images.example.com/boat.png?size=1",
                end_image="https://bob@images.example.com/end.png",
            )
        )
        journal.record_status("kmcp-secret", UNKNOWN, f"upstream said: 'Authorization': 'Bearer {JWT}'")
        entry = journal.get("kmcp-secret")
        assert entry is not None
        assert entry.start_image == "https://images.example.com/boat.png?size=1"
        assert entry.end_image == "https://images.example.com/end.png"
        assert entry.status_message is not None and JWT not in entry.status_message
        assert "[REDACTED]" in entry.status_message
        task = Task.model_validate(
            {
                "task_id": "t-secret",
                "task_status": "failed",
                "task_status_msg": f"gateway echoed headers: authorization={JWT}",
                "task_info": {"external_task_id": "kmcp-secret"},
            }
        )
        journal.record_task(task, "kmcp-secret")
        entry = journal.get("t-secret")
        assert entry is not None and entry.status_message is not None
        assert JWT not in entry.status_message and "[REDACTED]" in entry.status_message
    finally:
        journal.close()


def test_21_a_new_sqlite_journal_is_private_to_its_user(tmp_path: Path) -> None:
    path = tmp_path / "new-folder" / "tasks.sqlite3"
    journal = open_journal(path)
    journal.record_intent(JournalEntry(external_task_id="kmcp-1", endpoint="image2video", model="m", prompt="p"))
    try:
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        for file in (path, path.with_name(path.name + "-wal")):
            assert stat.S_IMODE(file.stat().st_mode) == 0o600, file
    finally:
        journal.close()
