"""Running a benchmark as CONTRIBUTING.md says leaves the committed reports (and the checkout) as they were."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import checkout_state

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow  # a small fault soak in a process of its own
def test_a_benchmark_run_writes_into_the_untracked_folder() -> None:
    before = checkout_state()
    latest = ROOT / "benchmarks" / "results" / "latest" / "fault_soak.md"
    latest.unlink(missing_ok=True)
    done = subprocess.run(
        [sys.executable, "benchmarks/fault_soak.py", "--calls", "4", "--concurrency", "2"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH", "")},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert latest.is_file()
    assert checkout_state() == before, "a benchmark run changed the checkout (tracked reports or untracked files)"
