"""Where benchmark results go: an untracked folder by default, the tracked reports only when asked (`--update`).

The files in benchmarks/results/ are the numbers the documentation quotes. A casual run must not rewrite them: that
would leave the checkout dirty, and put a busy laptop's numbers in place of measured ones by accident.
"""

from __future__ import annotations

import argparse
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
LATEST = RESULTS / "latest"  # in .gitignore


def add_output_arguments(parser: argparse.ArgumentParser) -> None:
    """The `--update` flag."""
    parser.add_argument(
        "--update",
        action="store_true",
        help=f"Replace the tracked reports in {RESULTS} (quoted by the docs) instead of writing into {LATEST}.",
    )


def output_dir(args: argparse.Namespace) -> Path:
    """The folder this run writes into (created)."""
    folder = RESULTS if args.update else LATEST
    folder.mkdir(parents=True, exist_ok=True)
    return folder
