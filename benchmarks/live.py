"""Benchmarks that drive the real server (stdio subprocess) through a real MCP client against the sandbox."""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import anyio
from mcp import Client, StdioServerParameters

from kling_mcp.sandbox.runner import SandboxServer

GENERATE = "kling_generate_video_from_image"
URL_IMAGE = "https://images.example.com/start.png"


def server_params(sandbox: SandboxServer, journal: Path, **env: str) -> StdioServerParameters:
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    base.update(
        {
            "KLING_API_BASE_URL": sandbox.url,
            "KLING_ACCESS_KEY": sandbox.state.config.access_key,
            "KLING_SECRET_KEY": sandbox.state.config.secret_key,
            "KLING_MCP_JOURNAL": str(journal),
            "KLING_MCP_LOG_LEVEL": "WARNING",
            **env,
        }
    )
    return StdioServerParameters(command=sys.executable, args=["-m", "kling_mcp"], env=base)


def server_pid() -> int | None:
    """The pid of our kling_mcp child process (for its peak RSS)."""
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().split()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if int(stat[3]) == me and b"kling_mcp" in cmdline:
            return int(entry.name)
    return None


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def concurrent_calls(
    client: Client, count: int, arguments: dict[str, Any]
) -> list[tuple[float, float, dict[str, Any]]]:
    """(start wall time, end wall time, structured result) for `count` calls made at once."""
    out: list[tuple[float, float, dict[str, Any]]] = []

    async def one(i: int) -> None:
        started = time.time()
        result = await client.call_tool(GENERATE, {**arguments, "prompt": f"{arguments['prompt']} {i}"})
        if result.is_error or not result.structured_content:
            raise RuntimeError("".join(getattr(b, "text", "") for b in result.content))
        out.append((started, time.time(), result.structured_content["result"]))

    async with anyio.create_task_group() as tg:
        for i in range(count):
            tg.start_soon(one, i)
    return out


def query_counts(sandbox: SandboxServer, since: float) -> dict[str, int]:
    gets = [r for r in sandbox.state.requests if r.method == "GET" and r.at >= since]
    lists = sum(1 for r in gets if r.path.count("/") == 3)
    return {"list_requests": lists, "task_requests": len(gets) - lists}


def rounds_of(sandbox: SandboxServer, since: float, gap: float = 0.1) -> int:
    """Status rounds: bursts of GET requests separated by more than `gap` seconds."""
    times = sorted(r.at for r in sandbox.state.requests if r.method == "GET" and r.at >= since)
    return sum(1 for a, b in zip([float("-inf"), *times], times, strict=False) if b - a > gap)


async def detection(sandbox: SandboxServer, workdir: Path, tasks: int) -> dict[str, Any]:
    """Detection latency and Kling requests per task, first without and then with history, same profile."""
    phases: dict[str, Any] = {}
    params = server_params(sandbox, workdir / "detection.sqlite3", KLING_MCP_MAX_WAIT="900")
    async with Client(params, mode="legacy") as client:
        for phase in ("no history", "with history"):
            since = time.monotonic()
            calls = await concurrent_calls(client, tasks, {"prompt": "detection", "start_image_url": URL_IMAGE})
            latencies = [end - sandbox.state.tasks[r["task_id"]].finished_at for _, end, r in calls]
            counts = query_counts(sandbox, since)
            phases[phase] = {
                "tasks": tasks,
                "task_seconds_mean": round(
                    statistics.mean(sandbox.state.tasks[r["task_id"]].finished_at - s for s, _, r in calls), 1
                ),
                "latency_p50_s": round(statistics.median(latencies), 2),
                "latency_max_s": round(max(latencies), 2),
                **counts,
                "status_requests_per_task": round((counts["list_requests"] + counts["task_requests"]) / tasks, 2),
            }
    return phases


async def overhead(sandbox: SandboxServer, workdir: Path, concurrency: int, task_seconds: float) -> dict[str, Any]:
    """Client time minus the sandbox's task time, and status requests per round, at one concurrency."""
    sandbox.state.config.task_seconds = None
    sandbox.state.config.queue_seconds, sandbox.state.config.run_seconds = 0.2, task_seconds - 0.2
    params = server_params(
        sandbox,
        workdir / f"overhead-{concurrency}.sqlite3",
        KLING_MCP_POLL_MIN_INTERVAL="0.25",
        KLING_MCP_POLL_MAX_INTERVAL="0.25",
    )
    async with Client(params, mode="legacy") as client:
        await client.list_tools()
        since = time.monotonic()
        calls = await concurrent_calls(client, concurrency, {"prompt": "overhead", "start_image_url": URL_IMAGE})
        pid = server_pid()
        rss = peak_rss_mb(pid) if pid else float("nan")
    added = sorted(end - start - (sandbox.state.tasks[r["task_id"]].finished_at - start) for start, end, r in calls)
    counts = query_counts(sandbox, since)
    rounds = max(1, rounds_of(sandbox, since))
    return {
        "concurrency": concurrency,
        "overhead_p50_s": round(statistics.median(added), 3),
        "overhead_p99_s": round(added[min(len(added) - 1, int(len(added) * 0.99))], 3),
        "status_rounds": rounds,
        "status_requests_per_round": round((counts["list_requests"] + counts["task_requests"]) / rounds, 2),
        **counts,
        "server_peak_rss_mb": round(rss, 1),
    }


def noise_png(path: Path, megabytes: float = 5.0) -> Path:
    """An incompressible PNG of about `megabytes` MB (random pixels)."""
    from PIL import Image

    side = int((megabytes * 1024 * 1024 / 3) ** 0.5)
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(path, compress_level=1)
    return path


async def rss_with_images(sandbox: SandboxServer, workdir: Path, calls: int) -> dict[str, Any]:
    """Peak RSS of the server while `calls` concurrent calls each send a 5 MB local image."""
    image = noise_png(workdir / "noise.png")
    sandbox.state.config.queue_seconds, sandbox.state.config.run_seconds = 0.2, 1.0
    params = server_params(sandbox, workdir / "rss.sqlite3", KLING_MCP_POLL_MIN_INTERVAL="0.25")
    async with Client(params, mode="legacy") as client:
        await client.list_tools()
        pid = server_pid()
        idle = peak_rss_mb(pid) if pid else float("nan")
        await concurrent_calls(client, calls, {"prompt": "rss", "start_image_url": str(image)})
        peak = peak_rss_mb(pid) if pid else float("nan")
    return {
        "calls": calls,
        "image_mb": round(image.stat().st_size / 1024 / 1024, 2),
        "idle_rss_mb": round(idle, 1),
        "peak_rss_mb": round(peak, 1),
    }
