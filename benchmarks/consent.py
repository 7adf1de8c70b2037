"""What asking before a paid create costs per call: the estimate's journal query, and the question's round trip.

    python benchmarks/consent.py               # writes consent.{json,md} into benchmarks/results/latest/
    python benchmarks/consent.py --calls 10    # fewer calls per mode

Two parts, both with the SQLite journal (on tmpfs when the machine has one, as the tests keep theirs):

- estimate: `service/prepare/estimates.estimate` against journals of 0, 1,000 and 20,000 finished tasks (a tenth of
  them of the profile asked about); milliseconds per estimate and journal queries per estimate (counted by a
  journal that counts the calls it forwards).
- per call: real generate calls through the real server and an in-memory MCP client against the sandbox (tasks
  done in 0.05 s), under KLING_MCP_CONFIRM_SPEND=off (the estimate only), auto with a client that cannot ask, and
  auto with a client that answers at once, in each protocol era (2026-07-28: the InputRequiredResult round trip
  runs the call twice; 2025-11-25: one elicitation request inside the call). Median and p90 milliseconds per call,
  and how many times the user was asked.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
from mcp import Client
from mcp.client.session import ClientRequestContext
from mcp_types import ElicitRequestParams, ElicitResult, ErrorData

from kling_mcp.api.retry import RetryPolicy
from kling_mcp.config import Settings
from kling_mcp.sandbox.runner import SandboxServer
from kling_mcp.sandbox.state import SandboxConfig
from kling_mcp.server.build import build_server
from kling_mcp.service.journal import TaskJournal, open_journal
from kling_mcp.service.journal.entry import COLUMNS
from kling_mcp.service.prepare.estimates import Profile, estimate

sys.path.insert(0, str(Path(__file__).resolve().parent))

from output import add_output_arguments, output_dir

PROFILE = Profile("text2video", "kling-v3", "pro", 10, sound=True)
ARGS = {"prompt": "a paper boat drifting", "model": "kling-v3", "mode": "pro", "duration": 10, "generate_audio": True}
FAST = RetryPolicy(max_attempts=3, initial_backoff=0.01, min_rate_limit_backoff=0.01, max_backoff=0.05)


class CountingJournal:
    """Forwards to a journal and counts the calls (each journal read is one SQL query)."""

    def __init__(self, journal: TaskJournal) -> None:
        self.journal, self.calls = journal, 0

    def __getattr__(self, name: str) -> Any:
        self.calls += 1
        return getattr(self.journal, name)


def fill(path: Path, tasks: int) -> None:
    """`tasks` finished tasks, a tenth of them of PROFILE, written in one transaction."""
    open_journal(path).close()  # the schema
    rows = []
    for i in range(tasks):
        values: dict[str, Any] = dict.fromkeys(COLUMNS)
        mine = i % 10 == 0
        values.update(
            external_task_id=f"kmcp-{i}",
            task_id=f"T{i}",
            endpoint="text2video",
            model="kling-v3" if mine else "kling-v2-master",
            prompt="p",
            status="succeed",
            videos="[]",
            final_unit_deduction="12" if mine else "10",
            created_at=float(i),
            updated_at=float(i),
            profile=PROFILE.key if mine else "image2video/kling-v2-master/std/5s/silent",
        )
        rows.append(tuple(values[c] for c in COLUMNS))
    with sqlite3.connect(path) as db:
        db.executemany(f"INSERT INTO tasks ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})", rows)
    db.close()


def estimate_cost(folder: Path, sizes: list[int], repeats: int) -> list[dict[str, Any]]:
    """Milliseconds and journal queries per estimate, by journal size."""
    rows = []
    for size in sizes:
        path = folder / f"estimate-{size}.sqlite3"
        fill(path, size)
        journal = open_journal(path)
        try:
            counting = CountingJournal(journal)
            found = estimate(counting, PROFILE)  # type: ignore[arg-type]  # duck-typed: forwards every method
            counting.calls = 0
            times = []
            for _ in range(repeats):
                started = time.perf_counter()
                estimate(counting, PROFILE)  # type: ignore[arg-type]
                times.append((time.perf_counter() - started) * 1000)
            rows.append(
                {
                    "tasks_in_journal": size,
                    "estimate_units": found.units,
                    "basis": found.basis,
                    "median_ms": round(statistics.median(times), 3),
                    "p90_ms": round(statistics.quantiles(times, n=10)[-1], 3),
                    "journal_queries_per_estimate": counting.calls / repeats,
                }
            )
        finally:
            journal.close()
    return rows


class Yes:
    """A user who approves at once."""

    def __init__(self) -> None:
        self.asked = 0

    async def __call__(self, context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult | ErrorData:
        del context, params
        self.asked += 1
        return ElicitResult(action="accept", content={"approve": True})


async def per_call(sandbox: SandboxServer, folder: Path, calls: int) -> list[dict[str, Any]]:
    """Milliseconds per generate call under each rule and client, in both protocol eras."""
    rows = []
    cases = [
        ("off", "auto", False),
        ("auto", "auto", False),
        ("auto", "auto", True),
        ("off", "legacy", False),
        ("auto", "legacy", False),
        ("auto", "legacy", True),
    ]
    for number, (rule, era, answers) in enumerate(cases):
        values: dict[str, Any] = {
            "KLING_API_BASE_URL": sandbox.url,
            "KLING_ACCESS_KEY": sandbox.state.config.access_key,
            "KLING_SECRET_KEY": sandbox.state.config.secret_key,
            "KLING_MCP_JOURNAL": str(folder / f"calls-{number}.sqlite3"),
            "KLING_MCP_POLL_MIN_INTERVAL": 0.02,
            "KLING_MCP_POLL_MAX_INTERVAL": 0.08,
            "KLING_MCP_CONFIRM_SPEND": rule,
        }
        settings = Settings(**values)
        user = Yes() if answers else None
        async with Client(build_server(settings, retry_policy=FAST), mode=era, elicitation_callback=user) as client:
            await client.call_tool("kling_generate_video_from_text", ARGS)  # opens the runtime: not counted
            times = []
            for _ in range(calls):
                started = time.perf_counter()
                result = await client.call_tool("kling_generate_video_from_text", ARGS)
                times.append((time.perf_counter() - started) * 1000)
                assert not result.is_error and result.structured_content is not None
        rows.append(
            {
                "rule": rule,
                "protocol": "2026-07-28" if era == "auto" else "2025-11-25",
                "client": "answers" if answers else "cannot ask",
                "median_ms": round(statistics.median(times), 1),
                "p90_ms": round(statistics.quantiles(times, n=10)[-1], 1),
                "questions_per_call": round(((user.asked - 1) if user else 0) / calls, 2),
            }
        )
    return rows


def markdown(report: dict[str, Any]) -> str:
    """The report as the tables docs/performance.md quotes."""
    lines = ["# What asking before a paid create costs", "", "## The estimate (SQLite)", ""]
    lines += ["| tasks in journal | ms (median) | ms (p90) | journal queries | estimate |", "|---|---|---|---|---|"]
    for r in report["estimate"]:
        lines.append(
            f"| {r['tasks_in_journal']:,} | {r['median_ms']} | {r['p90_ms']} | {r['journal_queries_per_estimate']:g} "
            f"| {r['estimate_units']:g} ({r['basis']}) |"
        )
    lines += ["", f"## Per generate call ({report['calls']} calls each, sandbox tasks of 0.05 s)", ""]
    lines += ["| rule | protocol | client | ms (median) | ms (p90) | questions per call |", "|---|---|---|---|---|---|"]
    for r in report["per_call"]:
        lines.append(
            f"| {r['rule']} | {r['protocol']} | {r['client']} | {r['median_ms']} | {r['p90_ms']} "
            f"| {r['questions_per_call']:g} |"
        )
    return "\n".join(lines) + "\n"


async def run(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    with SandboxServer(SandboxConfig(queue_seconds=0.01, run_seconds=0.04)) as sandbox:
        calls = await per_call(sandbox, folder, args.calls)
    return {"estimate": estimate_cost(folder, [0, 1_000, 20_000], args.repeats), "calls": args.calls, "per_call": calls}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=500)
    add_output_arguments(parser)
    args = parser.parse_args()
    shm = Path("/dev/shm")
    with tempfile.TemporaryDirectory(dir=shm if shm.is_dir() else None) as tmp:
        report = anyio.run(run, args, Path(tmp))
    folder = output_dir(args)
    (folder / "consent.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    (folder / "consent.md").write_text(markdown(report), encoding="utf-8")
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
