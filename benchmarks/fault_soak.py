"""Fault soak: many concurrent tool calls against the sandbox under injected faults; counts duplicates and orphans.

    python benchmarks/fault_soak.py [--calls 200] [--concurrency 50]

An orphan is a task the sandbox created whose id reached neither the caller nor the task journal; a duplicate is a
second create for one tool call. Both must be 0. Writes benchmarks/results/fault_soak.{json,md}.
"""

from __future__ import annotations

import argparse
import json
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

RESULTS = Path(__file__).resolve().parent / "results"


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
    }


async def soak(calls: int, concurrency: int, workdir: Path) -> dict[str, Any]:
    with SandboxServer(SandboxConfig(queue_seconds=0.2, run_seconds=1.0)) as sandbox:
        faults = fault_mix(calls)
        sandbox.state.inject(**faults)
        settings = Settings(
            _env_file=None,
            KLING_API_BASE_URL=sandbox.url,
            KLING_ACCESS_KEY=sandbox.state.config.access_key,
            KLING_SECRET_KEY=sandbox.state.config.secret_key,
            KLING_MCP_JOURNAL=str(workdir / "journal.sqlite3"),
            KLING_MCP_HTTP_TIMEOUT=0.8,
            KLING_MCP_POLL_MIN_INTERVAL=0.2,
            KLING_MCP_POLL_MAX_INTERVAL=0.5,
        )
        policy = RetryPolicy(initial_backoff=0.05, max_backoff=0.5, max_retry_after=1.0)
        outcomes: dict[str, int] = {"succeed": 0, "failed_task": 0, "other_error": 0}
        other_errors: list[str] = []
        returned_ids: set[str] = set()
        limiter = anyio.Semaphore(concurrency)
        started = time.perf_counter()
        async with Client(build_server(settings, retry_policy=policy)) as client:

            async def one(i: int) -> None:
                async with limiter:
                    result = await client.call_tool(
                        "kling_generate_video_from_image",
                        {"prompt": f"soak {i}", "start_image_url": "https://images.example.com/a.png"},
                    )
                text = "".join(getattr(b, "text", "") for b in result.content)
                if result.is_error:
                    outcomes["failed_task" if "failed:" in text else "other_error"] += 1
                    if "failed:" not in text:
                        other_errors.append(text[:300])
                    returned_ids.update(t for t in sandbox.state.tasks if t in text)
                else:
                    outcomes["succeed"] += 1
                    returned_ids.add((result.structured_content or {})["result"]["task_id"])

            async with anyio.create_task_group() as tg:
                for i in range(calls):
                    tg.start_soon(one, i)
        elapsed = time.perf_counter() - started
        journal = open_journal(settings.resolved_journal())
        journal_ids = {e.task_id for e in journal.recent(limit=calls * 2) if e.task_id}
        journal.close()
        created = set(sandbox.state.tasks)
        return {
            "calls": calls,
            "concurrency": concurrency,
            "faults_injected": dict(sandbox.state.fault_hits),
            "create_requests": len(sandbox.state.creates()),
            "tasks_created": len(created),
            "duplicates": sandbox.state.duplicate_creates + max(0, len(created) - calls),
            "orphans": len(created - returned_ids - journal_ids),
            "ids_returned_to_caller": len(created & returned_ids),
            "ids_in_journal": len(created & journal_ids),
            "outcomes": outcomes,
            "other_errors": other_errors,
            "seconds": round(elapsed, 2),
        }


def write_report(report: dict[str, Any]) -> None:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "fault_soak.json").write_text(json.dumps(report, indent=2) + "\n")
    rows = "\n".join(f"| {k} | {v} |" for k, v in report.items() if not isinstance(v, dict))
    faults = ", ".join(f"{k} × {v}" for k, v in sorted(report["faults_injected"].items()))
    outcomes = ", ".join(f"{k}: {v}" for k, v in report["outcomes"].items())
    (RESULTS / "fault_soak.md").write_text(
        f"# Fault soak\n\n| figure | value |\n|---|---|\n{rows}\n\nFaults injected: {faults}.\n\n"
        f"Outcomes: {outcomes}.\n"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        report = anyio.run(soak, args.calls, args.concurrency, Path(tmp))
    write_report(report)
    print(json.dumps(report, indent=2))
    return 0 if report["duplicates"] == 0 and report["orphans"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
