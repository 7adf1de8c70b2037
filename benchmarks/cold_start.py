"""Cold start: process spawn → `tools/list` answered, for kling-mcp and for a bare MCP SDK server, same run.

Measured in both protocol modes a client may use: `auto` (negotiates the stateless 2026-07-28 protocol, no
`initialize`) and `legacy` (the 2025-11-25 handshake most deployed clients speak).

python benchmarks/cold_start.py [--runs 15] [--modes auto legacy]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Literal

import anyio
from mcp import Client, StdioServerParameters

HERE = Path(__file__).resolve().parent
Mode = Literal["auto", "legacy"]


MODES: tuple[Mode, ...] = ("auto", "legacy")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


async def time_once(params: StdioServerParameters, mode: Mode) -> tuple[float, float]:
    """Wall seconds from spawn to `tools/list` answered, and the CPU seconds the server process used in all.

    CPU time barely moves with the machine's load (wall time does, a lot, on a shared 2-core machine); it is
    read from the reaped child's rusage, so it counts the whole process, shutdown included, for both servers.
    """
    cpu_before = _children_cpu()
    started = time.perf_counter()
    async with Client(params, mode=mode) as client:
        await client.list_tools()
        wall = time.perf_counter() - started
    return wall, _children_cpu() - cpu_before


def targets(env: dict[str, str], before_src: Path | None = None) -> dict[str, StdioServerParameters]:
    found = {
        "bare_sdk": StdioServerParameters(command=sys.executable, args=[str(HERE / "bare_server.py")], env=env),
        "kling_mcp": StdioServerParameters(command=sys.executable, args=["-m", "kling_mcp"], env=env),
    }
    if before_src is not None:  # an older checkout's src/, e.g. from `git worktree add /tmp/before REV`
        found["kling_mcp_before"] = StdioServerParameters(
            command=sys.executable, args=["-m", "kling_mcp"], env={**env, "PYTHONPATH": str(before_src)}
        )
    return found


async def measure(
    runs: int, env: dict[str, str], before_src: Path | None = None, modes: tuple[Mode, ...] = MODES
) -> dict[str, Any]:
    """Per protocol mode: each server's median and minimum, and kling-mcp's overhead over the bare server."""
    servers = targets(env, before_src)
    samples: dict[tuple[Mode, str], list[tuple[float, float]]] = {(m, n): [] for m in modes for n in servers}
    for _ in range(runs):  # alternate servers and modes, so drift on the machine hits every one alike
        for mode in modes:
            for name, params in servers.items():
                samples[(mode, name)].append(await time_once(params, mode))
    result: dict[str, Any] = {}
    for mode in modes:
        per_server: dict[str, Any] = {}
        for (m, name), pairs in samples.items():
            if m == mode:
                wall, cpu = [w for w, _ in pairs], [c for _, c in pairs]
                per_server[name] = {
                    "median_s": round(statistics.median(wall), 4),
                    "min_s": round(min(wall), 4),
                    "cpu_median_s": round(statistics.median(cpu), 4),
                    "runs": len(pairs),
                }
        bare, ours = per_server["bare_sdk"], per_server["kling_mcp"]
        per_server["overhead_pct"] = round(100 * (ours["median_s"] / bare["median_s"] - 1), 1)
        per_server["cpu_overhead_pct"] = round(100 * (ours["cpu_median_s"] / bare["cpu_median_s"] - 1), 1)
        # Each kling-mcp start against the bare start just before it: the machine's drift (on a shared VM it moves
        # both by ±10 % within minutes) cancels out of each pair, so the median of these ratios is the steadiest.
        pairs = zip(samples[(mode, "bare_sdk")], samples[(mode, "kling_mcp")], strict=True)
        ratios = [(o_wall / b_wall, o_cpu / b_cpu) for (b_wall, b_cpu), (o_wall, o_cpu) in pairs]
        per_server["paired_overhead_pct"] = round(100 * (statistics.median(r for r, _ in ratios) - 1), 1)
        per_server["paired_cpu_overhead_pct"] = round(100 * (statistics.median(c for _, c in ratios) - 1), 1)
        result[mode] = per_server
    return result


def default_env() -> dict[str, str]:
    """Keys set (so the server is fully configured), nothing else of the caller's."""
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    journal = str(Path(tempfile.gettempdir()) / "kling-cold-start.sqlite3")
    env.update({"KLING_ACCESS_KEY": "ak", "KLING_SECRET_KEY": "sk", "KLING_MCP_JOURNAL": journal})
    return env


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--before-src", type=Path, help="src/ of an older checkout to compare with")
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    args = parser.parse_args()
    print(json.dumps(anyio.run(measure, args.runs, default_env(), args.before_src, tuple(args.modes)), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
