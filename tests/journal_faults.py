"""Ways to break the task journal the way real disks and processes do, for the journal-failure tests.

- Locked: a real second process holds SQLite's write lock (`BEGIN IMMEDIATE`) for a while.
- Corrupt: the journal file holds bytes that are not an SQLite database.
- Read-only and full: the server runs in its own user and mount namespace (`unshare`), where the journal's folder
  is a read-only bind mount (writes fail with EROFS, as on a read-only file system) or a tiny tmpfs filled to the
  last byte (writes fail with ENOSPC, which SQLite reports as "database or disk is full"). A real file system in
  that state, rather than SQLite's `max_page_count` pragma: the pragma only limits the connection that sets it, so
  it cannot reach the server's own connection, and a tmpfs fails exactly where a full disk does (any write, the WAL
  included). `chmod` cannot stand in for read-only here: the tests may run as root, whom permissions do not stop.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mcp import StdioServerParameters

from kling_mcp.config import Settings
from tests.conftest import subprocess_env

HOLD_LOCK = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
db.execute("COMMIT")
"""


@contextmanager
def lock_held_by_another_process(path: Path, seconds: float) -> Iterator[subprocess.Popen[str]]:
    """A separate Python process holding the journal's write lock for `seconds` (yields once it holds it)."""
    with subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(path), str(seconds)], stdout=subprocess.PIPE, text=True
    ) as proc:
        try:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
            yield proc
        finally:
            if proc.poll() is None:
                proc.kill()


def corrupt(path: Path) -> None:
    """Make the journal file something that is not an SQLite database."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"this is not an SQLite database, just bytes a broken disk or a copy left behind " * 64)


def namespaces_unavailable() -> str | None:
    """Why the server cannot be run in its own user and mount namespace here, or None if it can."""
    if shutil.which("unshare") is None:
        return "unshare (util-linux) is not installed"
    probe = subprocess.run(
        ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode != 0:
        return f"unprivileged user and mount namespaces are not allowed here: {probe.stderr.strip()}"
    return None


def confined_server(settings: Settings, folder: Path, state: str, **env: str) -> StdioServerParameters:
    """Launch the stdio server with the journal's `folder` read-only (`state="read-only"`) or full (`"full"`)."""
    folder.mkdir(parents=True, exist_ok=True)
    where = shlex.quote(str(folder))
    if state == "read-only":
        prepare = f"mount --bind {where} {where} && mount -o remount,bind,ro {where}"
    elif state == "full":
        # Fill the tmpfs to the last byte; dd stops with "No space left on device", which is the point.
        prepare = f"mount -t tmpfs -o size=256k tmpfs {where} && (dd if=/dev/zero of={where}/filler bs=4k || true)"
    else:
        raise ValueError(state)
    script = f"{prepare} 2>/dev/null && exec {shlex.quote(sys.executable)} -m kling_mcp"
    return StdioServerParameters(
        command="unshare",
        args=["--user", "--map-root-user", "--mount", "sh", "-c", script],
        env=subprocess_env(settings, **env),
    )
