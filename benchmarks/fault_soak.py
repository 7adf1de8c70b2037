"""Fault soak: many concurrent tool calls against the sandbox under injected faults; counts duplicates and orphans.

    python benchmarks/fault_soak.py [--calls 200] [--concurrency 50]

Kling's faults (dropped, slow, refused, garbled and oddly shaped create answers, odd statuses on queries, rate
limits, expired tokens, failing tasks) are mixed with the journal's: another connection takes the journal's write
lock for 1.5 s every 3 s while the server's journal wait is 1 s, so some intents are refused before spending and
some writes after a create are kept and retried.

An orphan is a task the sandbox created whose id reached neither the caller nor the task journal; a duplicate is a
second create for one tool call; a false "nothing sent" is a text saying no request was sent / no task was created
for a call whose create made a task. All three must be 0. Writes fault_soak.{json,md} into
benchmarks/results/latest/ (untracked), or with --update into benchmarks/results/ (the report the docs quote).
"""

from __future__ import annotations

import argparse
import json
import re
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
from mcp import Client

from kling_mcp.api.retry import RetryPolicy
from kling_mcp.config import Settings
from kling_mcp.sandbox.runner import SandboxServer
from kling_mcp.sandbox.state import SandboxConfig
from kling_mcp.server.build import build_server
from kling_mcp.service.journal import open_journal

sys.path.insert(0, str(Path(__file__).resolve().parent))

from output import add_output_arguments, output_dir


def fault_mix(calls: int) -> dict[str, Any]:
    """Roughly one fault of each kind per 10 calls."""
    n = max(1, calls // 10)
    return {
        "create_error": n,
        "create_drop": n,
        "create_slow": max(1, n // 2),
        "slow_seconds": 1.2,
        "rate_limit": n,
        "retry_after": 0.1,
        "query_server_error": 2 * n,
        "token_expired": n,
        "fail_tasks": n,
        "create_not_json": n,
        "create_odd_envelope": n,
        "query_odd_status": n,
    }


ODD_SHAPES = ("no_task_status", "unknown_status", "code_not_int", "no_data")
# Phrases that tell the caller nothing was spent; each is checked against what the sandbox actually made.
NOTHING_SENT = re.compile(r"no request was sent|nothing was sent|no task was created|never left this machine", re.I)
IDS = re.compile(r"kmcp-[0-9a-f]{32}|\b\d{18}\b")


async def journal_lock_churn(path: Path, stop: anyio.Event, counts: dict[str, int]) -> None:
    """Another writer: take the journal's write lock for 1.5 s every 3 s (longer than the server's 1 s wait)."""
    while not stop.is_set():
        await anyio.sleep(1.5)
        if stop.is_set() or not path.exists():
            continue
        db = sqlite3.connect(str(path), isolation_level=None, timeout=5)
        try:
            db.execute("BEGIN IMMEDIATE")
            counts["journal_lock_held"] += 1
            await anyio.sleep(1.5)
            db.execute("COMMIT")
        finally:
            db.close()


async def odd_shape_rotation(sandbox: SandboxServer, stop: anyio.Event) -> None:
    """Change which odd envelope shape the sandbox sends, so every shape occurs."""
    i = 0
    while not stop.is_set():
        sandbox.state.inject(odd_envelope=ODD_SHAPES[i % len(ODD_SHAPES)], create_error_code=(5000, 1102)[i % 2])
        if i == 2:  # tokens the server signed before this moment now count as expired (1004)
            sandbox.state.inject(token_expired=20)
        i += 1
        await anyio.sleep(0.3)


async def soak(calls: int, concurrency: int, workdir: Path) -> dict[str, Any]:
    with SandboxServer(SandboxConfig(queue_seconds=0.2, run_seconds=1.0)) as sandbox:
        faults = fault_mix(calls)
        sandbox.state.inject(**faults)
        settings = Settings(
            KLING_API_BASE_URL=sandbox.url,
            KLING_ACCESS_KEY=sandbox.state.config.access_key,
            KLING_SECRET_KEY=sandbox.state.config.secret_key,
            KLING_MCP_JOURNAL=str(workdir / "journal.sqlite3"),
            KLING_MCP_HTTP_TIMEOUT=0.8,
            KLING_MCP_POLL_MIN_INTERVAL=0.2,
            KLING_MCP_POLL_MAX_INTERVAL=0.5,
            KLING_MCP_JOURNAL_WAIT=1.0,
        )
        policy = RetryPolicy(initial_backoff=0.05, max_backoff=0.5, max_retry_after=1.0)
        outcomes: dict[str, int] = {
            "succeed": 0,
            "failed_task": 0,
            "refused_journal": 0,
            "refused_by_kling": 0,
            "unknown_outcome": 0,
            "other_error": 0,
            "journal_warning": 0,
        }
        other_errors: list[str] = []
        texts: dict[int, str] = {}
        limiter = anyio.Semaphore(concurrency)
        churn = {"journal_lock_held": 0}
        stop = anyio.Event()
        started = time.perf_counter()
        async with Client(build_server(settings, retry_policy=policy)) as client, anyio.create_task_group() as side:
            side.start_soon(journal_lock_churn, Path(settings.resolved_journal()), stop, churn)
            side.start_soon(odd_shape_rotation, sandbox, stop)

            async def one(i: int) -> None:
                async with limiter:
                    result = await client.call_tool(
                        "kling_generate_video_from_image",
                        {"prompt": f"soak {i}", "start_image_url": "https://images.example.com/a.png"},
                    )
                text = "".join(getattr(b, "text", "") for b in result.content)
                texts[i] = text
                outcome = classify(result.is_error, text, result.structured_content)
                outcomes[outcome] += 1
                if outcome == "other_error":
                    other_errors.append(text[:300])
                if not result.is_error and (result.structured_content or {})["result"].get("journal_warning"):
                    outcomes["journal_warning"] += 1

            async with anyio.create_task_group() as tg:
                for i in range(calls):
                    tg.start_soon(one, i)
            stop.set()
        elapsed = time.perf_counter() - started
        journal = open_journal(settings.resolved_journal())
        entries = journal.recent(limit=calls * 2)
        journal_ids = {e.task_id for e in entries if e.task_id}
        journal_external = {e.external_task_id for e in entries}
        journal.close()
        tasks = dict(sandbox.state.tasks)
        created = set(tasks)
        # Which call made which task: the create request's prompt names the call, its external_task_id the task.
        call_of = {
            r.body["external_task_id"]: int(str(r.body["prompt"]).split()[1])
            for r in sandbox.state.creates()
            if r.body and r.body.get("external_task_id")
        }
        # A task the journal knows only by its external_task_id (its create's outcome unknown) is still found:
        # kling_get_video_task and the next start's sweep ask Kling by that id.
        by_external = {t.task_id for t in tasks.values() if t.external_task_id in journal_external}
        returned_ids = {
            t.task_id for t in tasks.values() if t.task_id in texts.get(call_of.get(t.external_task_id or "", -1), "")
        } | {
            t.task_id
            for t in tasks.values()
            if t.external_task_id and t.external_task_id in texts.get(call_of.get(t.external_task_id, -1), "")
        }
        calls_with_task = {call_of[t.external_task_id] for t in tasks.values() if t.external_task_id in call_of}
        sent_calls = set(call_of.values())
        faults_seen = dict(sandbox.state.fault_hits)
        faults_seen.update({k: v for k, v in churn.items() if v})
        return {
            "calls": calls,
            "concurrency": concurrency,
            "faults_injected": faults_seen,
            "create_requests": len(sandbox.state.creates()),
            "tasks_created": len(created),
            "duplicates": sandbox.state.duplicate_creates + max(0, len(created) - calls),
            "orphans": len(created - returned_ids - journal_ids - by_external),
            "false_nothing_sent": sum(1 for i in calls_with_task if NOTHING_SENT.search(texts.get(i, ""))),
            "texts_after_a_create_without_an_id": sum(1 for i in sent_calls if not IDS.search(texts.get(i, ""))),
            "ids_returned_to_caller": len(created & returned_ids),
            "ids_in_journal": len(created & journal_ids),
            "only_external_id_in_journal": len((created & by_external) - journal_ids),
            "outcomes": outcomes,
            "other_errors": other_errors,
            "seconds": round(elapsed, 2),
        }


def classify(is_error: bool, text: str, structured: dict[str, Any] | None) -> str:
    """What one call's answer amounts to."""
    if not is_error:
        return "succeed" if structured and structured["result"]["status"] == "succeed" else "other_error"
    if "failed:" in text:
        return "failed_task"
    if "task journal" in text and "nothing was sent" in text:
        return "refused_journal"
    if "Kling refused to create" in text:
        return "refused_by_kling"
    if "Could not confirm whether Kling created" in text:
        return "unknown_outcome"
    return "other_error"


def write_report(report: dict[str, Any], folder: Path) -> None:
    (folder / "fault_soak.json").write_text(json.dumps(report, indent=2) + "\n")
    rows = "\n".join(f"| {k} | {v} |" for k, v in report.items() if not isinstance(v, dict))
    faults = ", ".join(f"{k} × {v}" for k, v in sorted(report["faults_injected"].items()))
    outcomes = ", ".join(f"{k}: {v}" for k, v in report["outcomes"].items())
    (folder / "fault_soak.md").write_text(
        f"# Fault soak\n\n| figure | value |\n|---|---|\n{rows}\n\nFaults injected: {faults}.\n\n"
        f"Outcomes: {outcomes}.\n"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=50)
    add_output_arguments(parser)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        report = anyio.run(soak, args.calls, args.concurrency, Path(tmp))
    write_report(report, output_dir(args))
    print(json.dumps(report, indent=2))
    bad = ("duplicates", "orphans", "false_nothing_sent", "texts_after_a_create_without_an_id")
    return 0 if all(report[name] == 0 for name in bad) else 1


if __name__ == "__main__":
    sys.exit(main())
