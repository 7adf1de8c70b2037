"""The task journal's contract, run against every backend through one parametrized fixture."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from functools import partial
from pathlib import Path

import pytest

from kling_mcp.api.models import Task
from kling_mcp.service.journal import CREATE_FAILED, CREATING, JournalEntry, TaskHandle, TaskJournal, open_journal
from kling_mcp.service.journal.element_rows import ElementEntry
from kling_mcp.service.journal.entry import StoryboardShot, TaskSettings
from kling_mcp.service.journal.reopening import ReopeningJournal
from kling_mcp.service.journal.schema import SCHEMA_VERSION


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a fresh, empty journal lives, for each backend (PostgreSQL: a new database in the test cluster)."""
    if request.param == "postgresql":
        return str(request.getfixturevalue("pg_url"))
    return str(tmp_path / "journal.sqlite3")


@pytest.fixture(params=["direct", "reopening"])
def journal(request: pytest.FixtureRequest, location: str) -> Iterator[TaskJournal]:
    """Each backend as opened, and behind the server's `ReopeningJournal` (which runs the same queries on it)."""
    opened: TaskJournal = open_journal(location)
    if request.param == "reopening":
        opened.close()
        opened = ReopeningJournal(partial(open_journal, location), location)
    yield opened
    opened.close()


def _entry(external: str, **fields: object) -> JournalEntry:
    values: dict[str, object] = {"endpoint": "image2video", "model": "kling-v2-master", "prompt": "a cat"}
    values.update(fields)
    return JournalEntry(external_task_id=external, **values)  # type: ignore[arg-type]


def _task(task_id: str, external: str | None, status: str = "succeed", run_ms: int = 90_000) -> Task:
    return Task.model_validate(
        {
            "task_id": task_id,
            "task_status": status,
            "task_status_msg": "" if status != "failed" else "bad image",
            "created_at": 1_760_000_000_000,
            "updated_at": 1_760_000_000_000 + run_ms,
            "task_info": {"external_task_id": external} if external else {},
            "task_result": {"videos": [{"id": "v1", "url": "https://cdn.example/v1.mp4", "duration": "5"}]}
            if status == "succeed"
            else {},
        }
    )


def test_an_intent_is_found_by_its_external_id_then_by_the_task_id_kling_gave(journal: TaskJournal) -> None:
    journal.record_intent(_entry("kmcp-1", mode="pro", duration=5, start_image="sha256:ab"))
    before = journal.get("kmcp-1")
    assert before is not None and before.status == CREATING and before.task_id is None and before.created_at > 0
    journal.record_task(_task("T1", "kmcp-1"), "kmcp-1")
    after = journal.get("T1")
    assert after is not None
    assert (after.external_task_id, after.status, after.mode, after.duration) == ("kmcp-1", "succeed", "pro", 5)
    assert after.videos == [{"id": "v1", "url": "https://cdn.example/v1.mp4", "watermark_url": None, "duration": "5"}]
    assert after.kling_created_ms == 1_760_000_000_000  # milliseconds since 1970 need 64 bits


def test_a_failed_create_keeps_its_message(journal: TaskJournal) -> None:
    journal.record_intent(_entry("kmcp-2"))
    journal.record_status("kmcp-2", CREATE_FAILED, "1201: bad prompt")
    entry = journal.get("kmcp-2")
    assert entry is not None and (entry.status, entry.status_message) == (CREATE_FAILED, "1201: bad prompt")


def test_a_task_made_elsewhere_is_adopted(journal: TaskJournal) -> None:
    journal.record_task(_task("T9", None, status="processing"), None, "omni-video")
    entry = journal.get("T9")
    assert entry is not None
    assert (entry.external_task_id, entry.endpoint, entry.status) == ("kling:T9", "omni-video", "processing")


def test_recent_lists_newest_first_and_filters_by_status(journal: TaskJournal) -> None:
    for i in range(5):
        journal.record_intent(_entry(f"kmcp-{i}"))
    journal.record_status("kmcp-3", CREATE_FAILED, "no")
    assert [e.external_task_id for e in journal.recent(limit=3)] == ["kmcp-4", "kmcp-3", "kmcp-2"]
    assert [e.external_task_id for e in journal.recent(status=CREATE_FAILED)] == ["kmcp-3"]


def test_durations_are_per_profile_and_treat_a_missing_mode_as_a_value(journal: TaskJournal) -> None:
    profiles = [("a", "pro", 5, 90_000), ("b", "pro", 5, 120_000), ("c", None, 5, 30_000), ("d", "std", 5, 1_000)]
    for name, mode, duration, run_ms in profiles:
        journal.record_intent(_entry(f"kmcp-{name}", mode=mode, duration=duration))
        journal.record_task(_task(f"T{name}", f"kmcp-{name}", run_ms=run_ms), f"kmcp-{name}")
    assert journal.durations("kling-v2-master", "pro", 5) == [120.0, 90.0]
    assert journal.durations("kling-v2-master", None, 5) == [30.0]
    assert journal.durations("kling-v2-master", "pro", 10) == []


def test_the_schema_is_versioned_and_reopening_changes_nothing(location: str, journal: TaskJournal) -> None:
    journal.record_intent(_entry("kmcp-v"))
    journal.close()
    again = open_journal(location)
    try:
        assert again.get("kmcp-v") is not None
        assert again.schema_version() == SCHEMA_VERSION
    finally:
        again.close()


def test_two_connections_writing_at_once_lose_no_row(location: str) -> None:
    """Two processes' worth of connections share one journal (a WAL file, or a database) without losing rows."""
    first, second = open_journal(location), open_journal(location)
    try:

        def write(i: int) -> None:
            (first if i % 2 else second).record_intent(_entry(f"ext-{i}"))

        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(write, range(200)))
        assert len(first.recent(limit=500)) == 200
        assert second.get("ext-199") is not None
    finally:
        first.close()
        second.close()


# The table exactly as kling-mcp 0.1 created it, before the schema had a version.
RELEASE_0_1_SCHEMA = """
CREATE TABLE tasks (
    external_task_id TEXT PRIMARY KEY, task_id TEXT UNIQUE, endpoint TEXT NOT NULL, model TEXT NOT NULL, mode TEXT,
    duration INTEGER, prompt TEXT NOT NULL, start_image TEXT, end_image TEXT, status TEXT NOT NULL,
    status_message TEXT, videos TEXT NOT NULL DEFAULT '[]', kling_created_ms INTEGER, kling_updated_ms INTEGER,
    created_at REAL NOT NULL, updated_at REAL NOT NULL
);
CREATE INDEX tasks_by_created ON tasks (created_at DESC);
CREATE INDEX tasks_by_profile ON tasks (model, mode, duration, status);
INSERT INTO tasks VALUES ('kmcp-old', 'T-old', 'image2video', 'kling-v2-master', 'pro', 5, 'old cat', NULL, NULL,
    'succeed', '', '[{"id": "v", "url": "https://cdn.example/v.mp4"}]', 1000, 61000, 1.0, 2.0);
"""


def test_a_journal_from_release_0_1_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    # closing(): a connection's own `with` ends a transaction but leaves it open (Python 3.13 warns about that).
    with closing(sqlite3.connect(path)) as old:
        old.executescript(RELEASE_0_1_SCHEMA)
    journal = open_journal(path)
    try:
        entry = journal.get("T-old")
        assert entry is not None and entry.prompt == "old cat" and entry.videos[0]["url"] == "https://cdn.example/v.mp4"
        assert entry.owner is None  # made before tasks had owners: only admins (and the local operator) see it
        assert journal.durations("kling-v2-master", "pro", 5) == [60.0]
        journal.record_intent(_entry("kmcp-new"))
        assert [e.external_task_id for e in journal.recent()] == ["kmcp-new", "kmcp-old"]
        assert journal.schema_version() == SCHEMA_VERSION
    finally:
        journal.close()


def test_entries_keep_their_owner_and_a_query_can_be_limited_to_one(journal: TaskJournal) -> None:
    for name, owner in (("a1", "oauth:alice"), ("b1", "oauth:bob"), ("a2", "oauth:alice"), ("x", None)):
        journal.record_intent(_entry(f"kmcp-{name}", owner=owner))
    journal.record_task(_task("T-adopted", None), None, "image2video", owner="oauth:bob")  # a task new to the journal
    assert [e.external_task_id for e in journal.recent(owner="oauth:alice")] == ["kmcp-a2", "kmcp-a1"]
    assert [e.task_id or e.external_task_id for e in journal.recent(owner="oauth:bob")] == ["T-adopted", "kmcp-b1"]
    assert len(journal.recent()) == 5
    ownerless = journal.get("kmcp-x")
    assert ownerless is not None and ownerless.owner is None


def test_task_handles_are_kept_per_owner_and_cancelled_once(journal: TaskJournal) -> None:
    first = TaskHandle("kmcp-1", "kmcp-1", owner="alice", tool="gen", ttl_ms=60_000, created_at=100.0)
    journal.record_handle(first)
    journal.record_handle(TaskHandle("kmcp-1", "kmcp-other", owner="mallory", tool="gen", created_at=150.0))
    journal.record_handle(
        TaskHandle("kmcp-2~w1", "kmcp-2", owner="alice", tool="get", download=False, created_at=200.0)
    )
    journal.record_handle(TaskHandle("kmcp-3", "kmcp-3", owner="bob", tool="gen", download=True, created_at=300.0))
    assert journal.get_handle("kmcp-1") == first  # a second record of the same id changes nothing
    assert journal.get_handle("nope") is None
    assert [h.handle_id for h in journal.owner_handles("alice", limit=10)] == ["kmcp-2~w1", "kmcp-1"]
    assert [h.handle_id for h in journal.owner_handles("alice", limit=1, offset=1)] == ["kmcp-1"]
    assert [h.download for h in journal.owner_handles("bob", limit=10)] == [True]
    journal.cancel_handle("kmcp-1", 400.0)
    journal.cancel_handle("kmcp-1", 500.0)
    cancelled = journal.get_handle("kmcp-1")
    assert cancelled is not None and cancelled.cancelled_at == 400.0


def test_entries_keep_their_kling_api_and_older_ones_count_for_every_api(journal: TaskJournal) -> None:
    journal.record_intent(_entry("kmcp-real", kling_host="https://api-singapore.klingai.com"))
    journal.record_intent(_entry("kmcp-sandbox", kling_host="http://127.0.0.1:8765"))
    journal.record_intent(_entry("kmcp-old"))  # written before the journal recorded hosts
    real = journal.recent(kling_host="https://api-singapore.klingai.com")
    assert {e.external_task_id for e in real} == {"kmcp-real", "kmcp-old"}
    assert len(journal.recent()) == 3
    entry = journal.get("kmcp-sandbox")
    assert entry is not None and entry.kling_host == "http://127.0.0.1:8765"


def test_a_relayed_status_is_claimed_once_and_never_goes_back(journal: TaskJournal) -> None:
    journal.record_intent(_entry("kmcp-r"))
    journal.record_intent(_entry("kmcp-s"))
    terminal = ("succeed", "failed")
    assert journal.claim_relay("kmcp-r", "processing", ("processing", *terminal))
    assert not journal.claim_relay("kmcp-r", "processing", ("processing", *terminal))  # a replay
    assert not journal.claim_relay("kmcp-r", "submitted", ("submitted", "processing", *terminal))  # a late one
    assert journal.claim_relay("kmcp-r", "succeed", terminal)
    assert not journal.claim_relay("kmcp-r", "failed", terminal)
    assert (entry := journal.get("kmcp-r")) is not None and entry.relayed_status == "succeed"
    journal.release_relay("kmcp-r", "succeed", "processing")  # its relay never got through: may be tried again
    assert (entry := journal.get("kmcp-r")) is not None and entry.relayed_status == "processing"
    assert journal.claim_relay("kmcp-r", "succeed", terminal)
    assert not journal.claim_relay("kmcp-unknown", "succeed", terminal)
    with ThreadPoolExecutor(8) as pool:  # replicas claiming the same status at once: one wins
        claims = list(pool.map(lambda _: journal.claim_relay("kmcp-s", "succeed", terminal), range(8)))
    assert claims.count(True) == 1


def test_elements_keep_their_owner_ids_and_deletion(journal: TaskJournal) -> None:
    journal.record_element_intent(ElementEntry("kmcp-e1", "Mira", owner="alice", kling_host="https://k"))
    journal.record_element_intent(ElementEntry("kmcp-e2", "Rook", owner="bob", kling_host="https://k"))
    journal.record_element_intent(ElementEntry("kmcp-e3", "Old", owner="alice", kling_host="https://other"))
    journal.record_element("kmcp-e1", "submitted", task_id="t-1")
    journal.record_element("kmcp-e1", "succeed", element_id="el-1")  # a later answer keeps the task id
    journal.record_element("kmcp-e2", "create_failed", message="Invalid parameter")

    for any_id in ("el-1", "t-1", "kmcp-e1"):
        found = journal.element(any_id)
        assert found is not None, any_id
        assert (found.external_task_id, found.task_id, found.element_id, found.status, found.owner) == (
            "kmcp-e1",
            "t-1",
            "el-1",
            "succeed",
            "alice",
        )
    failed = journal.element("kmcp-e2")
    assert failed is not None and failed.status_message == "Invalid parameter" and failed.element_id is None
    assert journal.element("nope") is None

    def names(**query: object) -> list[str]:
        return [e.element_name for e in journal.elements(**query)]  # type: ignore[arg-type]

    assert names(owner="alice", kling_host="https://k") == ["Mira"]
    assert names(owner="alice") == ["Old", "Mira"]  # newest first
    assert names(kling_host="https://k") == ["Rook", "Mira"]
    journal.mark_element_deleted("el-1")
    assert names(owner="alice", kling_host="https://k") == []
    assert names(owner="alice", kling_host="https://k", deleted=True) == ["Mira"]
    deleted = journal.element("el-1")
    assert deleted is not None and deleted.deleted_at is not None
    # A generate call's whole element_list in one query, by any of the three ids, deleted ones included.
    named = journal.elements_named(["el-1", "kmcp-e2", "nope", "t-1"])
    assert sorted(e.external_task_id for e in named) == ["kmcp-e1", "kmcp-e2"]
    assert journal.elements_named([]) == []


def test_charges_are_per_billing_profile_newest_first_and_only_of_succeeded_tasks(journal: TaskJournal) -> None:
    runs = [
        ("e", "text2video/kling-v3/pro/10s/sound", "succeed", "not a number"),
        ("a", "text2video/kling-v3/pro/10s/sound", "succeed", "16"),
        ("b", "text2video/kling-v3/pro/10s/sound", "succeed", "12.5"),
        ("c", "text2video/kling-v3/pro/10s/silent", "succeed", "8"),
        ("d", "text2video/kling-v3/pro/10s/sound", "failed", "0"),
    ]
    for name, profile, status, units in runs:
        journal.record_intent(_entry(f"kmcp-{name}", profile=profile, estimated_units=9.5))
        task = _task(f"T{name}", f"kmcp-{name}", status=status).model_copy(update={"final_unit_deduction": units})
        journal.record_task(task, f"kmcp-{name}")
    assert journal.charges("text2video/kling-v3/pro/10s/sound") == [12.5, 16.0]
    assert journal.charges("text2video/kling-v3/pro/10s/sound", limit=1) == [12.5]
    assert journal.charges("text2video/kling-v3/pro/10s/silent") == [8.0]
    assert journal.charges("text2video/kling-v3/std/10s/silent") == []
    entry = journal.get("Ta")
    assert entry is not None and (entry.profile, entry.estimated_units) == ("text2video/kling-v3/pro/10s/sound", 9.5)


def test_what_a_task_was_made_from_is_kept_in_order_and_scrubbed(journal: TaskJournal) -> None:
    shots: list[StoryboardShot] = [
        {"prompt": 'a "quoted" cat at ftp://x", "@ <img src=x onerror=alert(1)>', "duration": 2},
        {"prompt": "ñ — the same cat, 🐈", "duration": 3},
        {"prompt": "x" * 512, "duration": 5},
    ]
    journal.record_intent(_entry("kmcp-board", settings={"shots": shots, "shot_type": "customize"}))
    motion: TaskSettings = {
        "reference_video_url": "https://user:hunter2@cdn.example/dance.mp4?sig=eyJhbGciOi.eyJzdWIi.c2ln",
        "character_orientation": "video",
        "keep_original_sound": False,
    }
    journal.record_intent(_entry("kmcp-motion", endpoint="motion-control", settings=motion))
    journal.record_intent(_entry("kmcp-plain"))
    journal.record_task(_task("T-board", "kmcp-board"), "kmcp-board")  # Kling's answer leaves the settings alone
    board = journal.get("T-board")
    assert board is not None and board.settings == {"shots": shots, "shot_type": "customize"}
    moved = journal.get("kmcp-motion")
    assert moved is not None and moved.settings == {
        "reference_video_url": "https://cdn.example/dance.mp4?sig=[REDACTED]",
        "character_orientation": "video",
        "keep_original_sound": False,
    }
    assert [e.settings is None for e in journal.recent()] == [True, False, False]
