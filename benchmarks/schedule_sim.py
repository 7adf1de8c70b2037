"""Poll schedules on a virtual clock: detection latency and queries per task over realistic task durations.

Uses the server's own PollSchedule code; only the clock is simulated, so a 5-minute task costs microseconds.
"""

from __future__ import annotations

import random
import statistics
from collections import Counter
from collections.abc import Callable
from typing import Any

from kling_mcp.sandbox.timing import RealisticDurations
from kling_mcp.service.wait.schedule import PollSchedule

Gap = Callable[[float, random.Random], tuple[float, str]]


def fixed(seconds: float) -> Gap:
    return lambda _age, _rng: (seconds, "fixed")


def before_v0(age: float, rng: random.Random) -> tuple[float, str]:
    """The schedule kling-mcp shipped first: 0.15 × age in [2, 10] s, ±15 % jitter."""
    base = min(10.0, max(2.0, age * 0.15))
    return max(2.0, min(10.0, base * (1 + 0.15 * (2 * rng.random() - 1)))), "age-proportional"


def learned(history: list[float] | None) -> Gap:
    plan = PollSchedule().plan(history or [])
    return lambda age, rng: plan.next_delay(age, rng.random)


def run_task(gap: Gap, duration: float, rng: random.Random) -> tuple[float, Counter[str]]:
    """Detection delay and queries by phase for one task finishing at `duration`."""
    age, phases = 0.0, Counter[str]()
    while True:
        delay, phase = gap(age, rng)
        age += delay
        phases[phase] += 1
        if age >= duration:
            return age - duration, phases


def summarize(delays: list[float], phases: Counter[str], tasks: int) -> dict[str, Any]:
    return {
        "latency_p50_s": round(statistics.median(delays), 2),
        "latency_max_s": round(max(delays), 2),
        "queries_per_task": round(sum(phases.values()) / tasks, 2),
        "queries_by_phase": {k: round(v / tasks, 2) for k, v in sorted(phases.items())},
    }


def compare(profiles: list[tuple[str, str, str]], tasks_per_profile: int, spread: float, seed: int) -> dict[str, Any]:
    """Every schedule over the same realistic tasks (history: the profile's five previous tasks)."""
    durations = RealisticDurations(spread=spread, seed=seed)
    rng = random.Random(seed)
    results: dict[str, dict[str, Any]] = {}
    schedules: dict[str, Callable[[list[float]], Gap]] = {
        "fixed 3 s": lambda _h: fixed(3.0),
        "fixed 5 s": lambda _h: fixed(5.0),
        "fixed 15 s": lambda _h: fixed(15.0),
        "before: age-proportional": lambda _h: before_v0,
        "learned, no history": lambda _h: learned(None),
        "learned, 5 tasks of history": learned,
    }
    for name, make in schedules.items():
        delays: list[float] = []
        phases: Counter[str] = Counter()
        for profile in profiles:
            history = [durations(*profile) for _ in range(5)]
            gap = make(history)
            for _ in range(tasks_per_profile):
                delay, used = run_task(gap, durations(*profile), rng)
                delays.append(delay)
                phases.update(used)
        results[name] = summarize(delays, phases, len(delays))
    fixed3 = results["fixed 3 s"]["queries_per_task"]
    for summary in results.values():
        summary["queries_vs_fixed_3s"] = round(summary["queries_per_task"] / fixed3, 2)
    return results


def sweep_by_duration(spread: float, seed: int) -> dict[str, list[dict[str, float]]]:
    """Queries and max latency against task duration (30 s … 300 s), for the plot."""
    rng = random.Random(seed)
    out: dict[str, list[dict[str, float]]] = {"fixed 3 s": [], "fixed 15 s": [], "before": [], "learned": []}
    for mean in range(30, 301, 15):
        history = [mean * rng.uniform(1 - spread, 1 + spread) for _ in range(5)]
        gaps: dict[str, Gap] = {
            "fixed 3 s": fixed(3.0),
            "fixed 15 s": fixed(15.0),
            "before": before_v0,
            "learned": learned(history),
        }
        for name, gap in gaps.items():
            runs = [run_task(gap, mean * rng.uniform(1 - spread, 1 + spread), rng) for _ in range(200)]
            out[name].append(
                {
                    "task_seconds": mean,
                    "queries": statistics.mean(sum(p.values()) for _, p in runs),
                    "latency_max": max(d for d, _ in runs),
                }
            )
    return out


def spread_sensitivity(seed: int) -> list[dict[str, float]]:
    """How the learned schedule degrades when a profile's durations vary more than assumed."""
    rows = []
    for spread in (0.02, 0.06, 0.10, 0.20, 0.30):
        result = compare([("kling-v2-master", "std", "5")], 400, spread, seed)
        learned_row = result["learned, 5 tasks of history"]
        rows.append(
            {
                "spread": spread,
                "latency_max_s": learned_row["latency_max_s"],
                "queries_vs_fixed_3s": learned_row["queries_vs_fixed_3s"],
            }
        )
    return rows
