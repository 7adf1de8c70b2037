"""Cold start: process spawn → `tools/list` answered, for kling-mcp and for a bare MCP SDK server, same run.

python benchmarks/cold_start.py [--runs 15]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
from mcp import Client, StdioServerParameters

HERE = Path(__file__).resolve().parent


async def time_once(params: StdioServerParameters) -> float:
    started = time.perf_counter()
    async with Client(params, mode="legacy") as client:
        await client.list_tools()
        return time.perf_counter() - started


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


async def measure(runs: int, env: dict[str, str], before_src: Path | None = None) -> dict[str, Any]:
    servers = targets(env, before_src)
    samples: dict[str, list[float]] = {name: [] for name in servers}
    for _ in range(runs):  # alternate, so drift on the machine hits every server alike
        for name, params in servers.items():
            samples[name].append(await time_once(params))
    result: dict[str, Any] = {
        name: {"median_s": round(statistics.median(v), 4), "min_s": round(min(v), 4), "runs": len(v)}
        for name, v in samples.items()
    }
    result["overhead_pct"] = round(100 * (result["kling_mcp"]["median_s"] / result["bare_sdk"]["median_s"] - 1), 1)
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
    args = parser.parse_args()
    print(json.dumps(anyio.run(measure, args.runs, default_env(), args.before_src), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
