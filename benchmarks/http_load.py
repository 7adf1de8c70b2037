"""Load test of kling-mcp over streamable HTTP: many clients, one tool call each, all at once, against the sandbox.

    python benchmarks/http_load.py                      # 200 clients x 1 call, writes benchmarks/results/latest/
    python benchmarks/http_load.py --update             # the same, replacing benchmarks/results/http_load.*
    python benchmarks/http_load.py --calls 50 --no-write

Three processes on loopback: the Kling sandbox (`kling-mcp sandbox`), the server under test (`python -m kling_mcp
--transport streamable-http`, bearer token, stateless) and this one, holding every client. Each call generates a
video from an inline base64 image and waits for it. What the server adds is measured per call as the client's time
minus the sandbox task's own time (queue + run), so it includes request handling, image checks, the create request,
the polling lag (bounded by the poll interval) and the answer. Peak RSS of the server is VmHWM from /proc.
A second round sends the same burst at the default concurrency cap, to show the excess refused as "busy".
Everything is bounded: a fixed number of calls and an overall deadline.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from kling_mcp.sandbox.state import SANDBOX_ACCESS_KEY, SANDBOX_SECRET_KEY
from kling_mcp.service.journal import open_journal

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from output import add_output_arguments, output_dir  # noqa: E402 - a sibling module of this script

EXAMPLE_PNG = ROOT / "src" / "kling_mcp" / "assets" / "example.png"
TOKEN = "load-test-token-0123456789abcdef"
SANDBOX_QUEUE_SECONDS = 1.0  # `kling-mcp sandbox` queues each task this long before --task-seconds of running
DEADLINE_SECONDS = 300.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2.0) as http:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
            try:
                http.get(url)
                return
            except httpx.TransportError:
                time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer in {timeout} s")


@contextmanager
def process(cmd: list[str], env: dict[str, str], log: Path, ready_url: str) -> Iterator[subprocess.Popen[bytes]]:
    with (
        log.open("wb") as log_file,
        subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=log_file, stderr=log_file) as proc,
    ):
        try:
            wait_http(ready_url, proc)
            yield proc
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=5)


def memory_kb(pid: int) -> dict[str, int]:
    """VmRSS (now) and VmHWM (peak) of a process, in kB (Linux)."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0])
    return values


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


@dataclass
class Round:
    name: str
    max_concurrent_calls: int
    calls: int
    ok: int = 0
    busy: int = 0
    errors: list[str] = field(default_factory=list)
    client_seconds: list[float] = field(default_factory=list)
    added_ms: list[float] = field(default_factory=list)
    to_create_ms: list[float] = field(default_factory=list)
    finish_to_answer_ms: list[float] = field(default_factory=list)
    wall_seconds: float = 0.0
    rss_start_mb: float = 0.0
    rss_peak_mb: float = 0.0
    server_cpu_seconds: float = 0.0
    journal_tasks: int = 0

    def summary(self) -> dict[str, Any]:
        added = self.added_ms or [float("nan")]
        client = self.client_seconds or [float("nan")]
        return {
            "round": self.name,
            "max_concurrent_calls": self.max_concurrent_calls,
            "calls": self.calls,
            "concurrency": self.calls,
            "completed": self.ok,
            "refused_busy": self.busy,
            "errors": len(self.errors),
            "error_samples": self.errors[:3],
            "tasks_in_journal": self.journal_tasks,
            "wall_seconds": round(self.wall_seconds, 2),
            "client_seconds_p50": round(percentile(client, 50), 3),
            "client_seconds_p99": round(percentile(client, 99), 3),
            "added_latency_ms_p50": round(percentile(added, 50), 1),
            "added_latency_ms_p90": round(percentile(added, 90), 1),
            "added_latency_ms_p99": round(percentile(added, 99), 1),
            "added_latency_ms_max": round(max(added), 1),
            "call_to_task_created_ms_p50": round(percentile(self.to_create_ms or [float("nan")], 50), 1),
            "call_to_task_created_ms_p99": round(percentile(self.to_create_ms or [float("nan")], 99), 1),
            "task_finished_to_answer_ms_p50": round(percentile(self.finish_to_answer_ms or [float("nan")], 50), 1),
            "task_finished_to_answer_ms_p99": round(percentile(self.finish_to_answer_ms or [float("nan")], 99), 1),
            "server_rss_start_mb": round(self.rss_start_mb, 1),
            "server_rss_peak_mb": round(self.rss_peak_mb, 1),
            "server_cpu_seconds": round(self.server_cpu_seconds, 2),
            "server_cpu_ms_per_call": round(self.server_cpu_seconds * 1000 / max(1, self.calls), 1),
        }


async def run_round(url: str, rnd: Round, task_seconds: float, image: str) -> None:
    start = anyio.Event()
    ready = [0]  # clients connected (or failed to), waiting for the start gun
    arguments = {"prompt": "load test: slow zoom", "start_image_url": image, "timeout": 60}

    async def one_client() -> None:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        try:
            async with (
                httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(60.0, read=120.0)) as http,
                Client(streamable_http_client(url, http_client=http)) as client,
            ):
                await client.list_tools()
                ready[0] += 1
                await start.wait()
                began, began_wall = time.monotonic(), time.time()
                result = await client.call_tool("kling_generate_video_from_image", arguments)
                elapsed, ended_wall = time.monotonic() - began, time.time()
        except Exception as exc:
            if not start.is_set():
                ready[0] += 1
            rnd.errors.append(repr(exc)[:300])
            return
        text = "".join(getattr(block, "text", "") for block in result.content)
        if result.is_error:
            if "is busy" in text:
                rnd.busy += 1
            else:
                rnd.errors.append(text[:300])
            return
        task = (result.structured_content or {}).get("result", {})
        if task.get("status") != "succeed":
            rnd.errors.append(f"status {task.get('status')}")
            return
        rnd.ok += 1
        # The sandbox's timestamps (same machine, same clock) split the added time into its two ends.
        rnd.to_create_ms.append((_epoch(task["created_at"]) - began_wall) * 1000)
        rnd.finish_to_answer_ms.append((ended_wall - _epoch(task["updated_at"])) * 1000)
        rnd.client_seconds.append(elapsed)
        rnd.added_ms.append((elapsed - task_seconds) * 1000)

    with anyio.fail_after(DEADLINE_SECONDS):
        async with anyio.create_task_group() as tg:
            for _ in range(rnd.calls):
                tg.start_soon(one_client)
            with anyio.move_on_after(60):  # every client connects (and lists tools) before the start gun
                while ready[0] < rnd.calls:
                    await anyio.sleep(0.05)
            began = time.monotonic()
            start.set()
        rnd.wall_seconds = time.monotonic() - began


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=200, help="Clients, each making one call, all at once.")
    parser.add_argument("--task-seconds", type=float, default=3.0, help="Sandbox run time of each task.")
    parser.add_argument("--poll", type=float, default=0.25, help="Server's minimum poll interval (seconds).")
    parser.add_argument("--no-write", action="store_true", help="Print the results only.")
    add_output_arguments(parser)
    args = parser.parse_args()
    if not 1 <= args.calls <= 1000:
        parser.error("--calls must be 1..1000")
    image = base64.b64encode(EXAMPLE_PNG.read_bytes()).decode()
    task_seconds = SANDBOX_QUEUE_SECONDS + args.task_seconds
    rounds = [
        Round("all admitted", max_concurrent_calls=max(256, args.calls), calls=args.calls),
        Round("default cap (64)", max_concurrent_calls=64, calls=args.calls),
    ]
    with tempfile.TemporaryDirectory(prefix="kling-http-load-") as tmp:
        work = Path(tmp)
        base_env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
        sandbox_port = free_port()
        sandbox_cmd = [sys.executable, "-m", "kling_mcp", "sandbox", "--port", str(sandbox_port)]
        sandbox_cmd += ["--task-seconds", str(args.task_seconds)]
        with process(sandbox_cmd, base_env, work / "sandbox.log", f"http://127.0.0.1:{sandbox_port}/"):
            for number, rnd in enumerate(rounds):
                journal = work / f"journal-{number}.sqlite3"
                port = free_port()
                env = {
                    **base_env,
                    "KLING_API_BASE_URL": f"http://127.0.0.1:{sandbox_port}",
                    "KLING_ACCESS_KEY": SANDBOX_ACCESS_KEY,
                    "KLING_SECRET_KEY": SANDBOX_SECRET_KEY,
                    "KLING_MCP_JOURNAL": str(journal),
                    "KLING_MCP_AUTH_TOKEN": TOKEN,
                    "KLING_MCP_STATELESS": "1",
                    "KLING_MCP_MAX_CONCURRENT_CALLS": str(rnd.max_concurrent_calls),
                    "KLING_MCP_POLL_MIN_INTERVAL": str(args.poll),
                    "KLING_MCP_POLL_MAX_INTERVAL": str(args.poll * 2),
                    "KLING_MCP_LOG_LEVEL": "WARNING",
                }
                server_cmd = [sys.executable, "-m", "kling_mcp", "--transport", "streamable-http"]
                server_cmd += ["--host", "127.0.0.1", "--port", str(port)]
                url = f"http://127.0.0.1:{port}"
                with process(server_cmd, env, work / f"server-{number}.log", f"{url}/healthz") as server:
                    rnd.rss_start_mb = memory_kb(server.pid)["VmRSS"] / 1024
                    cpu_before = cpu_seconds(server.pid)
                    anyio.run(run_round, f"{url}/mcp", rnd, task_seconds, f"data:image/png;base64,{image}")
                    rnd.server_cpu_seconds = cpu_seconds(server.pid) - cpu_before
                    rnd.rss_peak_mb = memory_kb(server.pid)["VmHWM"] / 1024
                journal_file = open_journal(journal)
                try:
                    rnd.journal_tasks = len(journal_file.recent(limit=10_000))
                finally:
                    journal_file.close()
                print(json.dumps(rnd.summary(), indent=2))
    report = {
        "benchmark": "http_load",
        "what": "N MCP clients over streamable HTTP, one kling_generate_video_from_image call each, all at once",
        "server": "python -m kling_mcp --transport streamable-http --stateless, bearer token, WARNING logs",
        "image": f"inline base64 PNG ({EXAMPLE_PNG.stat().st_size} bytes), checked by the server on every call",
        "sandbox_task_seconds": task_seconds,
        "poll_interval_seconds": [args.poll, args.poll * 2],
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "rounds": [rnd.summary() for rnd in rounds],
    }
    if not args.no_write:
        folder = output_dir(args)
        (folder / "http_load.json").write_text(json.dumps(report, indent=2) + "\n")
        (folder / "http_load.md").write_text(markdown(report))
        print(f"wrote {folder / 'http_load.json'} and .md")
    first = rounds[0]
    return 0 if first.ok == first.calls and not first.errors else 1


def markdown(report: dict[str, Any]) -> str:
    lines = [
        "# HTTP load: concurrent tool calls over streamable HTTP",
        "",
        f"{report['what']}. Server: `{report['server']}`. Image: {report['image']}. Each sandbox task takes "
        f"{report['sandbox_task_seconds']} s; the server polls every {report['poll_interval_seconds'][0]}–"
        f"{report['poll_interval_seconds'][1]} s. Machine: {report['machine']['cpus']} CPUs (shared with the "
        "sandbox and all clients), Python " + report["machine"]["python"] + ".",
        "",
        "Added latency = the client's time for the call minus the sandbox task's own time: request handling, image "
        "checks, the create, the polling lag (up to one poll interval) and the answer. It splits into *call → task "
        "created* (the server's work before Kling has the task) and *task finished → answer* (mostly polling lag).",
        "",
        "| round | cap | calls at once | completed | refused busy | errors | tasks in journal | wall s | "
        "added p50 ms | added p99 ms | added max ms | call→created p50/p99 ms | finished→answer p50/p99 ms | "
        "server RSS start MB | server peak RSS MB | server CPU ms/call |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report["rounds"]:
        lines.append(
            f"| {r['round']} | {r['max_concurrent_calls']} | {r['concurrency']} | {r['completed']} | "
            f"{r['refused_busy']} | {r['errors']} | {r['tasks_in_journal']} | {r['wall_seconds']} | "
            f"{r['added_latency_ms_p50']} | {r['added_latency_ms_p99']} | {r['added_latency_ms_max']} | "
            f"{r['call_to_task_created_ms_p50']} / {r['call_to_task_created_ms_p99']} | "
            f"{r['task_finished_to_answer_ms_p50']} / {r['task_finished_to_answer_ms_p99']} | "
            f"{r['server_rss_start_mb']} | {r['server_rss_peak_mb']} | {r['server_cpu_ms_per_call']} |"
        )
    lines += [
        "",
        "Server CPU per call covers everything the server did for it (including every status poll and journal "
        "write). The server, the sandbox and all clients share two cores (with whatever else runs on the machine), "
        "so at 200 calls at once much of the added latency is queueing for a CPU; the short poll interval used here "
        "also costs CPU that the default schedule (2-10 s) does not.",
        "",
        "Reproduce: `python benchmarks/http_load.py` (about a minute; writes this file and `http_load.json`).",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
