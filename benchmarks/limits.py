"""What the spend limit costs a create, at the journal (docs/limits.md): milliseconds and queries per call.

For each backend (an SQLite file; PostgreSQL in a throwaway cluster) one owner has `--history` tasks in its 24-hour
window, and each create's journal work is timed three ways: the intent alone (as before limits), the estimate plus
the intent with the spend check in its transaction (what a create does now), and the spend read the credits tool
makes. Numbers are medians and 95th percentiles of `--calls` creates, one after another.

    python benchmarks/limits.py            # writes benchmarks/results/latest/limits.{md,json}
    python benchmarks/limits.py --update   # replaces the tracked report
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from output import add_output_arguments, output_dir  # noqa: E402
from tests.pg_cluster import postgres_bin, throwaway_cluster  # noqa: E402

from kling_mcp.service.journal import JournalEntry, open_journal  # noqa: E402
from kling_mcp.service.journal.ledger import WINDOW_SECONDS, SpendCheck  # noqa: E402
from kling_mcp.service.journal.sql import SqlJournal  # noqa: E402
from kling_mcp.service.prepare.estimates import Profile, estimate  # noqa: E402

OWNER = "token:bench"
PROFILE = Profile("text2video", "kling-v3", "pro", 5)
# Statements per create in the journal, read off service/journal/sql.py and prepare/estimates.py.
QUERIES = {
    "before limits": "1 (INSERT intent)",
    "with the limit": "3 + INSERT: estimate (1 read), then in one transaction spend_limits + the window's tasks "
    "(PostgreSQL: + pg_advisory_xact_lock)",
}


def _entry(i: int) -> JournalEntry:
    return JournalEntry(f"kmcp-bench-{i}", "text2video", "kling-v3", "p", owner=OWNER, profile=PROFILE.key)


def _timed(calls: int, action: Callable[[int], object]) -> dict[str, float]:
    samples = []
    for i in range(calls):
        started = time.perf_counter()
        action(i)
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return {"median_ms": round(statistics.median(samples), 3), "p95_ms": round(samples[int(len(samples) * 0.95)], 3)}


def measure(journal: SqlJournal, history: int, calls: int) -> dict[str, Any]:
    """The three timings on one journal whose owner already has `history` tasks in the window."""
    for i in range(history):
        journal.record_intent(_entry(-1 - i), SpendCheck(None, 4.0))
    base = _timed(calls, lambda i: journal.record_intent(_entry(i)))

    def limited(i: int) -> None:
        units = estimate(journal, PROFILE).units
        journal.record_intent(_entry(calls + i), SpendCheck(1e12, units))

    with_limit = _timed(calls, limited)
    read = _timed(calls, lambda _: journal.spending(OWNER, 1e12, window=WINDOW_SECONDS))
    return {
        "before limits": base,
        "with the limit": with_limit,
        "spend read (credits tool)": read,
        "added per create_ms": round(with_limit["median_ms"] - base["median_ms"], 3),
    }


@contextmanager
def journals(folder: Path) -> Iterator[dict[str, str]]:
    """The journal locations to measure: an SQLite file, and PostgreSQL when it is installed."""
    locations = {"SQLite (file)": str(folder / "bench.sqlite3")}
    if postgres_bin() is None:
        yield locations
        return
    with throwaway_cluster() as cluster, cluster.database() as url:
        locations["PostgreSQL (loopback)"] = url
        yield locations


def markdown(report: dict[str, Any]) -> str:
    lines = [
        "# What the spend limit costs a create (journal work per call)",
        "",
        f"{report['calls']} creates one after another; the owner has {report['history']} tasks in its 24-hour window "
        f"at the start, {report['history'] + 2 * report['calls']} at the end. {report['machine']}.",
        "",
        "| journal | intent alone (before) | estimate + intent with the check | added per create | spend read |",
        "|---|---|---|---|---|",
    ]
    for name, numbers in report["backends"].items():
        cells = [
            f"{numbers[k]['median_ms']} ms (p95 {numbers[k]['p95_ms']})"
            for k in ("before limits", "with the limit", "spend read (credits tool)")
        ]
        lines.append(f"| {name} | {cells[0]} | {cells[1]} | {numbers['added per create_ms']} ms | {cells[2]} |")
    lines += ["", "Journal statements per create:", ""]
    lines += [f"- {name}: {count}" for name, count in QUERIES.items()]
    return "\n".join(lines) + "\n"


def main() -> int:
    import platform

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--history", type=int, default=100, help="the owner's tasks already in the window")
    add_output_arguments(parser)
    args = parser.parse_args()
    report: dict[str, Any] = {"calls": args.calls, "history": args.history, "backends": {}}
    with tempfile.TemporaryDirectory() as tmp, journals(Path(tmp)) as locations:
        for name, location in locations.items():
            journal = open_journal(location)
            try:
                report["backends"][name] = measure(journal, args.history, args.calls)
            finally:
                journal.close()
    report["machine"] = f"{platform.platform()}, Python {platform.python_version()}"
    text = markdown(report)
    print(text)
    folder = output_dir(args)
    (folder / "limits.json").write_text(json.dumps(report, indent=2) + "\n")
    (folder / "limits.md").write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
