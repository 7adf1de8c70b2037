"""Callbacks vs polling: detection latency and status queries per task, and the PostgreSQL journal's cost per call.

    python benchmarks/callbacks.py            # writes benchmarks/results/callbacks.{json,md}; about 5 minutes
    python benchmarks/callbacks.py --tasks 4 --scale 0.05 --no-write

One sandbox for the whole run, realistic durations of a 5-minute-class profile (kling-v2-1-master, pro, 10 s)
compressed by --scale as benchmarks/run.py does. Each mode runs real servers over streamable HTTP: first with an
empty journal ("no history"), then again with the tasks of the first round as history. Modes:

- polling: the learned schedule, no public URL;
- callbacks: KLING_MCP_PUBLIC_URL set, the sandbox calls the server back, polling is the sparse safety net;
- callbacks, 2 replicas + PostgreSQL: calls go to replica A, every callback to replica B (LISTEN/NOTIFY wakes A).

Latency is the time from the sandbox finishing a task to the call returning it. Status queries count every GET the
sandbox answered (task queries and list pages) divided by the tasks. The journal cost is the time of one call's
journal work (intent, task id, two status changes, one read), in this process, on each backend.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from http_load import TOKEN, free_port, process  # noqa: E402
from live import URL_IMAGE, concurrent_calls, query_counts  # noqa: E402
from tests.pg_cluster import Cluster, throwaway_cluster  # noqa: E402

from kling_mcp.api.models import Task  # noqa: E402
from kling_mcp.sandbox.runner import SandboxServer  # noqa: E402
from kling_mcp.sandbox.state import SandboxConfig  # noqa: E402
from kling_mcp.sandbox.timing import RealisticDurations  # noqa: E402
from kling_mcp.service.journal import JournalEntry, open_journal  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
PROFILE = {"model": "kling-v2-1-master", "mode": "pro", "duration": 10}


def server_env(sandbox: SandboxServer, journal: str, **extra: str) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    env.update(
        {
            "KLING_API_BASE_URL": sandbox.url,
            "KLING_ACCESS_KEY": sandbox.state.config.access_key,
            "KLING_SECRET_KEY": sandbox.state.config.secret_key,
            "KLING_MCP_JOURNAL": journal,
            "KLING_MCP_AUTH_TOKEN": TOKEN,
            "KLING_MCP_MAX_WAIT": "900",
            "KLING_MCP_LOG_LEVEL": "WARNING",
            **extra,
        }
    )
    return env


@contextmanager
def servers(sandbox: SandboxServer, workdir: Path, journal: str, replicas: int, callbacks: bool) -> Iterator[str]:
    """Start the replicas; yields the MCP URL calls go to (the first replica). Callbacks go to the last one."""
    ports = [free_port() for _ in range(replicas)]
    extra = {"KLING_MCP_PUBLIC_URL": f"http://127.0.0.1:{ports[-1]}"} if callbacks else {}
    with ExitStack() as stack:
        for port in ports:
            cmd = [sys.executable, "-m", "kling_mcp", "--transport", "streamable-http", "--stateless"]
            cmd += ["--host", "127.0.0.1", "--port", str(port)]
            log = workdir / f"server-{port}.log"
            stack.enter_context(
                process(cmd, server_env(sandbox, journal, **extra), log, f"http://127.0.0.1:{port}/healthz")
            )
        yield f"http://127.0.0.1:{ports[0]}/mcp"


async def one_round(sandbox: SandboxServer, url: str, tasks: int, *, at_once: bool = True) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30.0, read=900.0)) as http,
        Client(streamable_http_client(url, http_client=http), mode="legacy") as client,  # type: ignore[arg-type]
    ):
        since = time.monotonic()
        arguments = {"prompt": "bench", "start_image_url": URL_IMAGE, "timeout": 900, **PROFILE}
        if at_once:
            calls = await concurrent_calls(client, tasks, arguments)
        else:  # one after another: no two waits share a status query
            calls = [c for _ in range(tasks) for c in await concurrent_calls(client, 1, arguments)]
    latencies = sorted(end - sandbox.state.tasks[r["task_id"]].finished_at for _, end, r in calls)
    counts = query_counts(sandbox, since)
    return {
        "tasks": tasks,
        "task_seconds_mean": round(
            statistics.mean(sandbox.state.tasks[r["task_id"]].finished_at - s for s, _, r in calls), 1
        ),
        "latency_p50_s": round(statistics.median(latencies), 3),
        "latency_p99_s": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 3),
        "status_queries_per_task": round((counts["list_requests"] + counts["task_requests"]) / tasks, 2),
        **counts,
    }


async def mode(
    sandbox: SandboxServer, workdir: Path, journal: str, tasks: int, sequential: int, **shape: Any
) -> dict[str, Any]:
    out = {}
    with servers(sandbox, workdir, journal, **shape) as url:
        for phase in ("no history", "with history"):
            out[phase] = await one_round(sandbox, url, tasks)
            print(f"  {phase}: {out[phase]}")
        phase = "with history, one at a time"
        out[phase] = await one_round(sandbox, url, sequential, at_once=False)
        print(f"  {phase}: {out[phase]}")
    return out


def journal_cost(location: str, calls: int) -> float:
    """Milliseconds of journal work per generate call (intent, task id, two status changes, one read)."""
    journal = open_journal(location)
    try:
        started = time.perf_counter()
        for i in range(calls):
            external = f"kmcp-bench-{i}-{time.time_ns()}"
            journal.record_intent(
                JournalEntry(external_task_id=external, endpoint="image2video", model="m", prompt="p")
            )
            for status in ("submitted", "processing", "succeed"):
                task = Task.model_validate(
                    {"task_id": f"T{external}", "task_status": status, "task_info": {"external_task_id": external}}
                )
                journal.record_task(task, external)
            journal.get(external)
        return (time.perf_counter() - started) * 1000 / calls
    finally:
        journal.close()


def markdown(report: dict[str, Any]) -> str:
    lines = [
        "# Callbacks vs polling",
        "",
        f"Machine: {report['machine']}. PostgreSQL: {report['postgresql']}. Profile {PROFILE['model']} "
        f"{PROFILE['mode']} {PROFILE['duration']} s, durations scaled by {report['scale']} "
        f"(mean task {report['modes']['polling']['no history']['task_seconds_mean']} s), "
        f"{report['tasks']} tasks at once per round, then {report['sequential']} one after another.",
        "",
        "| mode | history | latency p50 s | latency p99 s | status queries per task | list | task |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, phases in report["modes"].items():
        for phase, r in phases.items():
            lines.append(
                f"| {name} | {phase} | {r['latency_p50_s']} | {r['latency_p99_s']} | {r['status_queries_per_task']} "
                f"| {r['list_requests']} | {r['task_requests']} |"
            )
    lines += ["", "| journal | ms of journal work per call |", "|---|---|"]
    lines += [f"| {name} | {ms} |" for name, ms in report["journal_ms_per_call"].items()]
    return "\n".join(lines) + "\n"


async def run(args: argparse.Namespace, cluster: Cluster, workdir: Path) -> dict[str, Any]:
    durations = RealisticDurations(scale=args.scale, spread=0.06, seed=5)
    report: dict[str, Any] = {
        "scale": args.scale,
        "tasks": args.tasks,
        "sequential": args.sequential,
        "postgresql": cluster.version,
        "modes": {},
    }
    with SandboxServer(SandboxConfig(queue_seconds=2.0, task_seconds=durations)) as sandbox, cluster.database() as pg:
        shapes = {
            "polling": (str(workdir / "polling.sqlite3"), {"replicas": 1, "callbacks": False}),
            "callbacks": (str(workdir / "callbacks.sqlite3"), {"replicas": 1, "callbacks": True}),
            "callbacks, 2 replicas + PostgreSQL": (pg, {"replicas": 2, "callbacks": True}),
        }
        for name, (journal, shape) in shapes.items():
            print(name)
            report["modes"][name] = await mode(sandbox, workdir, journal, args.tasks, args.sequential, **shape)
        report["journal_ms_per_call"] = {
            "SQLite (local file)": round(journal_cost(str(workdir / "cost.sqlite3"), args.journal_calls), 2),
            "PostgreSQL (loopback)": round(journal_cost(pg, args.journal_calls), 2),
        }
    return report


def main() -> int:
    import platform

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=8, help="tasks at once per round")
    parser.add_argument("--scale", type=float, default=0.1, help="compression of the realistic durations")
    parser.add_argument("--sequential", type=int, default=3, help="tasks one after another in the last round")
    parser.add_argument("--journal-calls", type=int, default=200)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    with throwaway_cluster() as cluster, tempfile.TemporaryDirectory() as tmp:
        report = anyio.run(run, args, cluster, Path(tmp))
    report["machine"] = f"{platform.platform()}, Python {platform.python_version()}"
    text = markdown(report)
    print(text)
    if not args.no_write:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "callbacks.json").write_text(json.dumps(report, indent=2) + "\n")
        (RESULTS / "callbacks.md").write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
