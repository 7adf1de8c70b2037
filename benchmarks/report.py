"""Turn the benchmark results into Markdown tables and a PNG plot."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    head = "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns) + "\n"
    return head + "".join("| " + " | ".join(str(row.get(c, "")) for c in columns) + " |\n" for row in rows)


def markdown(r: dict[str, Any]) -> str:
    m = r["machine"]
    parts = [
        "# kling-mcp benchmark report\n\n",
        f"Machine: {m['platform']}, {m['cpus']} CPUs, Python {m['python']}; kling-mcp {m['kling_mcp']}"
        f"{' (quick run)' if r['quick'] else ''}.\n\n",
        "## Poll schedules (virtual clock, realistic durations ±6 %, 5 profiles)\n\n",
        _table(
            [
                {
                    "schedule": k,
                    **{kk: vv for kk, vv in v.items() if kk != "queries_by_phase"},
                    "by phase": ", ".join(f"{p} {n}" for p, n in v["queries_by_phase"].items()),
                }
                for k, v in r["schedules"].items()
            ],
            ["schedule", "latency_p50_s", "latency_max_s", "queries_per_task", "queries_vs_fixed_3s", "by phase"],
        ),
        "\n### Learned schedule when durations vary more than expected\n\n",
        _table(r["spread_sensitivity"], ["spread", "latency_max_s", "queries_vs_fixed_3s"]),
        "\n## Detection latency, live (server over stdio, sandbox)\n\n",
        _table(
            [{"phase": k, **v} for k, v in r["detection"].items()],
            [
                "phase",
                "tasks",
                "task_seconds_mean",
                "latency_p50_s",
                "latency_max_s",
                "list_requests",
                "task_requests",
                "status_requests_per_task",
            ],
        ),
        "\n## Server overhead and status requests per round, by concurrency (2 s tasks, 0.25 s poll gap)\n\n",
        _table(
            r["overhead"],
            [
                "concurrency",
                "overhead_p50_s",
                "overhead_p99_s",
                "status_rounds",
                "status_requests_per_round",
                "list_requests",
                "task_requests",
                "server_peak_rss_mb",
            ],
        ),
        "\nOverhead = client call time − the sandbox's task time; it includes up to one 0.25 s poll gap.\n",
        "\n## Cold start (spawn → tools/list answered, median)\n\n",
        _table(
            [
                {"mode": mode, "server": k, **v}
                for mode, servers in r["cold_start"].items()
                for k, v in servers.items()
                if isinstance(v, dict)
            ],
            ["mode", "server", "median_s", "min_s", "cpu_median_s", "runs"],
        ),
        "\nkling-mcp over the bare SDK server: "
        + ", ".join(
            f"{m} {s['overhead_pct']} % (CPU time {s['cpu_overhead_pct']} %)" for m, s in r["cold_start"].items()
        )
        + ".\n",
        "\n## Peak RSS with 5 MB local images\n\n",
        _table([r["rss"]], ["calls", "image_mb", "idle_rss_mb", "peak_rss_mb"]),
    ]
    return "".join(parts)


def plot(r: dict[str, Any], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.5))
    for name, points in r["schedule_sweep"].items():
        xs = [p["task_seconds"] for p in points]
        axes[0].plot(xs, [p["queries"] for p in points], label=name)
        axes[1].plot(xs, [p["latency_max"] for p in points], label=name)
    axes[0].set(title="Status queries per task", xlabel="task duration (s)", ylabel="queries")
    axes[1].set(title="Max detection latency", xlabel="task duration (s)", ylabel="seconds")
    conc = [row["concurrency"] for row in r["overhead"]]
    axes[2].plot(conc, [row["overhead_p50_s"] for row in r["overhead"]], marker="o", label="overhead p50 (s)")
    axes[2].plot(conc, [row["overhead_p99_s"] for row in r["overhead"]], marker="o", label="overhead p99 (s)")
    axes[2].plot(
        conc, [row["status_requests_per_round"] for row in r["overhead"]], marker="s", label="status requests / round"
    )
    axes[2].set(title="Against concurrency", xlabel="concurrent calls", xscale="log")
    for ax in axes:
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
