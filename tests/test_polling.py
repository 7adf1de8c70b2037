"""The poll schedule (learned window, fallback) and the shared poller that batches status queries."""

from __future__ import annotations

import random
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mcp import Client
from pydantic import SecretStr

from kling_mcp.api.client import KlingClient
from kling_mcp.api.models import Image2VideoBody, Task
from kling_mcp.api.signing import JwtSigner
from kling_mcp.sandbox.runner import SandboxServer
from kling_mcp.service.wait.poller import MIN_PAGE_SIZE, TaskPoller
from kling_mcp.service.wait.schedule import PollPlan, PollSchedule
from tests.conftest import FAST_RETRY, text_of

SCHEDULE = PollSchedule()


def simulate(plan: PollPlan, duration: float, rng: random.Random) -> tuple[float, int]:
    """(detection delay, queries) for a task that finishes at `duration`, on a virtual clock."""
    age, queries = 0.0, 0
    while True:
        delay, _ = plan.next_delay(age, rng.random)
        age += delay
        queries += 1
        if age >= duration:
            return age - duration, queries


def test_fallback_gaps_grow_with_age_and_stay_under_the_cap() -> None:
    plan = SCHEDULE.plan([])
    gaps = [plan.next_delay(age, lambda: 0.5)[0] for age in (0, 10, 20, 60, 600)]
    assert gaps == sorted(gaps)
    assert gaps[0] == SCHEDULE.min_interval
    assert max(plan.next_delay(600, lambda: 1.0)[0], gaps[-1]) <= SCHEDULE.fallback_cap
    assert plan.next_delay(5, lambda: 0.5)[1] == "fallback"


def test_history_gives_sparse_dense_and_backoff_phases() -> None:
    plan = SCHEDULE.plan([60, 62, 58, 61, 59])
    # The seen range (4 s) is below the assumed minimum spread (10 % of 60 s), which sets the margins.
    assert plan.window == (58 - SCHEDULE.dense_interval - 3, 62 + SCHEDULE.dense_interval + 6)
    assert plan.next_delay(0)[1] == "sparse"
    assert plan.next_delay(57)[1] == "dense"
    assert plan.next_delay(57, lambda: 1.0)[0] <= SCHEDULE.dense_interval
    assert plan.next_delay(120)[1] == "backoff"
    assert plan.next_delay(10_000)[0] <= SCHEDULE.max_interval


def test_fewer_than_min_history_falls_back() -> None:
    assert SCHEDULE.plan([60, 61, 62, 63]).window is None


@settings(max_examples=60, deadline=None, database=None)
@given(
    mean=st.floats(min_value=40, max_value=400),  # Kling's tasks take from about 30 s
    spread=st.floats(min_value=0.0, max_value=0.06),
    seed=st.integers(min_value=0, max_value=10_000),
)
def test_learned_schedule_beats_a_fixed_three_second_schedule(mean: float, spread: float, seed: int) -> None:
    """With ≥ 5 tasks of history: detection ≤ 3 s, with at most a third of a fixed 3 s schedule's queries."""
    rng = random.Random(seed)
    history = [mean * rng.uniform(1 - spread, 1 + spread) for _ in range(5)]
    plan = SCHEDULE.plan(history)
    ours = fixed = 0
    for _ in range(20):
        duration = mean * rng.uniform(1 - spread, 1 + spread)
        delay, queries = simulate(plan, duration, rng)
        if min(history) <= duration <= max(history):
            assert delay <= SCHEDULE.dense_interval <= 3.0
        ours += queries
        fixed += int(duration // 3) + 1
    assert ours * 3 <= fixed, (ours, fixed)


def test_learned_schedule_on_a_realistic_queue_detects_within_three_seconds() -> None:
    """Kling-like profile: 60 s ± 6 %, five tasks of history, a thousand tasks."""
    rng = random.Random(7)
    plan = SCHEDULE.plan([60 * rng.uniform(0.94, 1.06) for _ in range(5)])
    delays = [simulate(plan, 60 * rng.uniform(0.94, 1.06), rng)[0] for _ in range(1000)]
    assert max(delays) <= 3.0


@settings(max_examples=60, deadline=None, database=None)
@given(duration=st.floats(min_value=1, max_value=900), seed=st.integers(min_value=0, max_value=10_000))
def test_without_history_detection_stays_under_five_seconds(duration: float, seed: int) -> None:
    delay, _ = simulate(SCHEDULE.plan([]), duration, random.Random(seed))
    assert delay <= 5.0


@pytest.mark.anyio
@pytest.mark.slow  # 30 calls on 1.5 s tasks
async def test_concurrent_waits_share_list_requests(server_factory: Callable[..., Any], sandbox: SandboxServer) -> None:
    calls = 30
    sandbox.state.config.run_seconds = 1.5
    results: list[Any] = []
    server = server_factory(KLING_MCP_POLL_MIN_INTERVAL=0.4, KLING_MCP_POLL_MAX_INTERVAL=0.5)
    async with Client(server) as client:

        async def one(i: int) -> None:
            results.append(
                await client.call_tool(
                    "kling_generate_video_from_image",
                    {"prompt": f"batch {i}", "start_image_url": "https://images.example.com/a.png"},
                )
            )

        async with anyio.create_task_group() as tg:
            for i in range(calls):
                tg.start_soon(one, i)
    assert all(not r.is_error for r in results), [text_of(r) for r in results if r.is_error]
    gets = [r for r in sandbox.state.requests if r.method == "GET"]
    lists = [r for r in gets if r.path == "/v1/videos/image2video"]
    singles = [r for r in gets if r.path != "/v1/videos/image2video"]
    # Polling one by one needs ≥ 3 queries per task here (1.5 s task, gaps ≤ 0.5 s): 90 or more.
    assert lists, "concurrent waits should be answered by list requests"
    assert len(gets) <= calls, f"{len(lists)} list + {len(singles)} single queries for {calls} tasks"


@pytest.fixture
async def kling(sandbox: SandboxServer) -> AsyncIterator[KlingClient]:
    """Our Kling client, over loopback HTTP to the sandbox."""
    config = sandbox.state.config
    async with httpx.AsyncClient(base_url=sandbox.url, timeout=10) as http:
        yield KlingClient(http, JwtSigner(config.access_key, SecretStr(config.secret_key)), policy=FAST_RETRY)


async def _create(kling: KlingClient, name: str) -> Task:
    body = Image2VideoBody(
        model_name="kling-v2-master", image="https://images.example.com/a.png", external_task_id=name
    )
    return await kling.create_task("image2video", body)


async def _one_round(
    kling: KlingClient, sandbox: SandboxServer, tasks: list[Task], *, with_created: bool
) -> tuple[list[str], int, int]:
    """The task ids three waiters got from one shared round, and the round's list and single status queries."""
    poller, answered = TaskPoller(kling), []
    since = len(sandbox.state.requests)

    async def wait(task: Task) -> None:
        created = task.created_at if with_created else None
        answered.append(await poller.poll("image2video", task.task_id, due=time.monotonic() + 0.1, created_ms=created))

    async with anyio.create_task_group() as tg:
        for task in tasks:
            tg.start_soon(wait, task)
    gets = [r for r in sandbox.state.requests[since:] if r.method == "GET"]
    lists = sum(1 for r in gets if r.path == "/v1/videos/image2video")
    return sorted(t.task_id for t in answered), lists, len(gets) - lists


@pytest.mark.anyio
async def test_a_round_reads_an_older_page_for_waiting_tasks_that_newer_ones_pushed_down(
    kling: KlingClient, sandbox: SandboxServer
) -> None:
    """Calls still arriving create tasks while others wait: the waiting ones fall past the first page of the list."""
    ours = [await _create(kling, f"kmcp-waiting-{i}") for i in range(3)]
    await anyio.sleep(0.01)  # later milliseconds
    for i in range(MIN_PAGE_SIZE + 10):
        await _create(kling, f"kmcp-newer-{i}")
    answered, lists, singles = await _one_round(kling, sandbox, ours, with_created=True)
    assert answered == sorted(t.task_id for t in ours)
    assert (lists, singles) == (2, 0), "the second page holds them: no query per task"


@pytest.mark.anyio
async def test_a_task_not_known_to_be_older_than_the_page_is_queried_on_its_own(
    kling: KlingClient, sandbox: SandboxServer
) -> None:
    """Without a creation time, no older page is read on the chance (it may be a task from long ago)."""
    ours = [await _create(kling, f"kmcp-waiting-{i}") for i in range(3)]
    for i in range(MIN_PAGE_SIZE + 10):
        await _create(kling, f"kmcp-newer-{i}")
    answered, lists, singles = await _one_round(kling, sandbox, ours, with_created=False)
    assert answered == sorted(t.task_id for t in ours)
    assert (lists, singles) == (1, 3)
