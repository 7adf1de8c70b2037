"""The fast lane (`pytest -m "not slow"`) cannot start processes: a test that does must say it is slow."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest


def test_a_test_not_marked_slow_cannot_start_a_process() -> None:
    with pytest.raises(RuntimeError, match=r"not marked slow: add @pytest\.mark\.slow"):
        subprocess.run([sys.executable, "-c", "pass"], check=False)


def test_nor_through_asyncio() -> None:
    async def spawn() -> None:
        await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")

    with pytest.raises(RuntimeError, match="not marked slow"):
        asyncio.run(spawn())


@pytest.mark.slow
def test_a_slow_test_may() -> None:
    assert subprocess.run([sys.executable, "-c", "pass"], check=False).returncode == 0
