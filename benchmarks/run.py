"""kling-mcp benchmarks: one entry point, real server and real MCP client against the sandbox.

    pip install -e ".[bench]"
    python benchmarks/run.py            # full run, several minutes
    python benchmarks/run.py --quick    # smaller numbers, about a minute
    python benchmarks/run.py --update   # full run that replaces the committed report

Writes report.json, report.md and report.png into benchmarks/results/latest/ (untracked), or with --update into
benchmarks/results/ (the report the docs quote). Numbers live here, never in timed unit tests.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
from pathlib import Path
from typing import Any

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cold_start
import live
import report
import schedule_sim
from output import add_output_arguments, output_dir

from kling_mcp import __version__
from kling_mcp.sandbox.runner import SandboxServer
from kling_mcp.sandbox.state import SandboxConfig
from kling_mcp.sandbox.timing import RealisticDurations

PROFILES = [
    ("kling-v2-master", "std", "5"),
    ("kling-v2-5-turbo", "std", "5"),
    ("kling-v2-6", "pro", "10"),
    ("kling-v1", "std", "5"),
    ("kling-v3", "pro", "5"),
]


def machine() -> dict[str, Any]:
    import os

    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "kling_mcp": __version__,
    }


async def live_sections(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    durations = RealisticDurations(scale=args.scale, spread=0.06, seed=3)
    with SandboxServer(SandboxConfig(queue_seconds=2.0, task_seconds=durations)) as sandbox:
        print(f"detection: {args.detection_tasks} tasks per phase, ~{durations.mean(*PROFILES[0]):.0f} s each")
        out["detection"] = await live.detection(sandbox, workdir, args.detection_tasks)
        out["overhead"] = []
        for concurrency in args.concurrency:
            print(f"overhead at {concurrency} concurrent calls")
            out["overhead"].append(await live.overhead(sandbox, workdir, concurrency, task_seconds=2.0))
        print(f"peak RSS at {args.rss_calls} calls with 5 MB images")
        out["rss"] = await live.rss_with_images(sandbox, workdir, args.rss_calls)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller counts and shorter tasks")
    add_output_arguments(parser)
    parser.add_argument("--out", type=Path, help="Write into this folder instead (overrides --update).")
    parser.add_argument("--before-src", type=Path, help="src/ of an older checkout, for a before/after cold start")
    args = parser.parse_args()
    args.scale = 0.15 if args.quick else 0.3
    args.detection_tasks = 5 if args.quick else 10
    args.concurrency = [1, 10, 100] if args.quick else [1, 10, 100, 500]
    args.rss_calls = 20 if args.quick else 100
    args.sim_tasks = 100 if args.quick else 400

    results: dict[str, Any] = {"machine": machine(), "quick": args.quick}
    print("schedule simulation")
    results["schedules"] = schedule_sim.compare(PROFILES, args.sim_tasks, spread=0.06, seed=1)
    results["schedule_sweep"] = schedule_sim.sweep_by_duration(spread=0.06, seed=2)
    results["spread_sensitivity"] = schedule_sim.spread_sensitivity(seed=4)
    print("cold start")
    results["cold_start"] = anyio.run(
        cold_start.measure, 5 if args.quick else 15, cold_start.default_env(), args.before_src
    )
    with tempfile.TemporaryDirectory(prefix="kling-bench-") as tmp:
        results.update(anyio.run(live_sections, args, Path(tmp)))
    out = args.out or output_dir(args)
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / "report.md").write_text(report.markdown(results))
    report.plot(results, out / "report.png")
    print((out / "report.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
