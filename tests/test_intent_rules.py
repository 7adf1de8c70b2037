"""The stale-intent rules, in the fast lane: a clock the test moves, the real sandbox, a real journal and client.

An intent without a task id is adopted when Kling knows its external_task_id, left open while the grace period
runs, and declared `never_created` once it is over; the start-up sweep looks only at intents earlier processes
left against the same Kling API. (tests/test_stale_intents.py proves the same end to end, with processes killed
mid-create, in the slow lane.)
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import anyio
import httpx
import pytest
from pydantic import SecretStr

from kling_mcp.api.client import KlingClient
from kling_mcp.api.models import Image2VideoBody
from kling_mcp.api.signing import JwtSigner
from kling_mcp.sandbox.runner import SandboxServer
from kling_mcp.service.create.intents import IntentResolver
from kling_mcp.service.create.recorder import JournalRecorder
from kling_mcp.service.journal import CREATING, NEVER_CREATED, JournalEntry, TaskJournal, open_journal
from tests.clocks import HandClock
from tests.conftest import FAST_RETRY, journal_file

pytestmark = pytest.mark.anyio

GRACE = 600.0
IMAGE = "https://example.com/a.png"


@dataclass
class Parts:
    journal: TaskJournal
    client: KlingClient
    clock: HandClock
    resolver: Callable[..., IntentResolver]


@pytest.fixture
async def parts(sandbox: SandboxServer, tmp_path: Path) -> AsyncIterator[Parts]:
    config = sandbox.state.config
    signer = JwtSigner(config.access_key, SecretStr(config.secret_key))
    journal = open_journal(str(journal_file(tmp_path)))
    clock = HandClock(0.0)
    async with httpx.AsyncClient(base_url=sandbox.url) as http:
        client = KlingClient(http, signer, policy=FAST_RETRY)

        def resolver(kling_host: str | None = sandbox.url) -> IntentResolver:
            recorder = JournalRecorder(journal)
            return IntentResolver(
                client, journal, recorder, grace_seconds=GRACE, poll_interval=0.01, kling_host=kling_host,
                wall_clock=clock,
            )  # fmt: skip

        try:
            yield Parts(journal, client, clock, resolver)
        finally:
            journal.close()


def _intent(external_task_id: str, kling_host: str | None) -> JournalEntry:
    """An intent as a create writes it (the journal stamps its time)."""
    return JournalEntry(
        external_task_id=external_task_id,
        endpoint="image2video",
        model="kling-v2-master",
        prompt="a cat",
        kling_host=kling_host,
        owner="local:tester",
    )


def _status(journal: TaskJournal, external_task_id: str) -> str | None:
    entry = journal.get(external_task_id)
    return None if entry is None else entry.status


async def test_an_intent_unknown_to_kling_stays_open_until_the_grace_period_is_over(
    parts: Parts, sandbox: SandboxServer
) -> None:
    entry = _intent("kmcp-grace", sandbox.url)
    parts.journal.record_intent(entry)
    resolver = parts.resolver()
    parts.clock.now = entry.created_at + GRACE - 1  # one second short of the grace period
    early = await resolver.resolve(entry, "image2video", deadline=0)
    assert early.task is None and early.entry.status == CREATING
    assert early.note == "Kling does not know this task yet; if it still does not in 1 s, it is declared never created"
    assert _status(parts.journal, "kmcp-grace") == CREATING

    parts.clock.now = entry.created_at + GRACE  # the grace period is over
    late = await resolver.resolve(entry, "image2video", deadline=0)
    assert late.task is None and late.entry.status == NEVER_CREATED
    assert late.note == "did not wait: Kling never made it"
    assert _status(parts.journal, "kmcp-grace") == NEVER_CREATED
    message = parts.journal.get("kmcp-grace").status_message  # type: ignore[union-attr]
    assert message is not None and "nothing was billed" in message and "600 s after" in message
    assert [r.path for r in sandbox.state.requests] == ["/v1/videos/image2video/kmcp-grace"] * 2


async def test_an_intent_kling_knows_is_adopted_however_old_it_is(parts: Parts, sandbox: SandboxServer) -> None:
    body = Image2VideoBody(model_name="kling-v2-master", image=IMAGE, prompt="a cat", external_task_id="kmcp-known")
    task = await parts.client.create_task("image2video", body)
    entry = _intent("kmcp-known", sandbox.url)
    parts.journal.record_intent(entry)
    parts.clock.now = entry.created_at + 10 * GRACE  # long past the grace period: Kling's word still wins
    found = await parts.resolver().resolve(entry, "image2video", deadline=0)
    assert found.task is not None and found.task.task_id == task.task_id
    assert _status(parts.journal, "kmcp-known") == CREATING, "the adoption is written by the recorder's thread"


async def test_the_sweep_judges_only_intents_earlier_processes_left_at_the_same_kling(
    parts: Parts, sandbox: SandboxServer
) -> None:
    for external_task_id, host in [
        ("kmcp-old", sandbox.url),
        ("kmcp-legacy", None),  # from before the kling_host column: ours to judge
        ("kmcp-elsewhere", "https://api-beijing.klingai.com"),  # another Kling API: it would look never created
    ]:
        parts.journal.record_intent(_intent(external_task_id, host))
    parts.clock.now = time.time()
    resolver = parts.resolver()  # a new process starts: what was journaled before now is earlier processes' work
    await anyio.sleep(0.01)
    parts.journal.record_intent(_intent("kmcp-own", sandbox.url))  # this process's own create, still in flight
    parts.clock.now += 2 * GRACE
    assert await resolver.sweep() == 2
    statuses = {e: _status(parts.journal, e) for e in ("kmcp-old", "kmcp-legacy", "kmcp-elsewhere", "kmcp-own")}
    assert statuses == {
        "kmcp-old": NEVER_CREATED,
        "kmcp-legacy": NEVER_CREATED,
        "kmcp-elsewhere": CREATING,
        "kmcp-own": CREATING,
    }
    asked = sorted(r.path for r in sandbox.state.requests)
    assert asked == ["/v1/videos/image2video/kmcp-legacy", "/v1/videos/image2video/kmcp-old"]
