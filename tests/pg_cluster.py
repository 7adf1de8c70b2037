"""A throwaway PostgreSQL cluster from Debian's `postgresql` package, in a temporary folder, on a free port.

PostgreSQL refuses to run as root, so under root the cluster belongs to the `postgres` user the package creates and
every server command runs through `runuser`.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg

from tests.http_support import free_port

SUPERUSER = "kmcp"


def postgres_bin() -> Path | None:
    """The newest PostgreSQL server's bin folder, if the package is installed."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parent.parent.name))
    return Path(found[-1]).parent if found else None


@dataclass
class Cluster:
    """A running cluster: its folder, port, superuser password and how to run its programs."""

    bin: Path
    folder: Path
    port: int
    password: str
    run_as: list[str]

    @property
    def version(self) -> str:
        return self._run("postgres", "--version").stdout.strip()

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}:{self.password}@127.0.0.1:{self.port}/{dbname}"

    def _run(self, program: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.run_as, str(self.bin / program), *args], check=True, capture_output=True, text=True, timeout=60
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = str(self.folder / "log")
        self._run("pg_ctl", "-D", str(self.folder / "data"), "-o", options, "-l", log, "-w", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.folder / "data"), "-m", "fast", "-w", "stop")

    def restart(self) -> None:
        """A fast restart: every open connection is cut, as when the database server fails over."""
        self.stop()
        self.start()

    @contextmanager
    def database(self) -> Iterator[str]:
        """A fresh, empty database for one test; its URL (with the password)."""
        name = f"journal_{secrets.token_hex(6)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        try:
            yield self.url(name)
        finally:
            with psycopg.connect(self.url(), autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@contextmanager
def throwaway_cluster() -> Iterator[Cluster]:
    """initdb a cluster in a temporary folder, start it, and remove everything afterwards."""
    bin_dir = postgres_bin()
    if bin_dir is None:
        raise FileNotFoundError("PostgreSQL is not installed (apt-get install -y postgresql)")
    folder = Path(tempfile.mkdtemp(prefix="kling-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
        run_as = ["runuser", "-u", "postgres", "--"]
    password = secrets.token_urlsafe(16)
    pwfile = folder / "pw"
    pwfile.write_text(password)
    if run_as:
        shutil.chown(pwfile, "postgres", "postgres")
    cluster = Cluster(bin_dir, folder, free_port(), password, run_as)
    try:
        cluster._run(
            "initdb", "-D", str(folder / "data"), "-U", SUPERUSER, f"--pwfile={pwfile}", "--auth=scram-sha-256",
            "--no-sync", "-E", "UTF8", "--locale=C.UTF-8",
        )  # fmt: skip
        cluster.start()
        try:
            yield cluster
        finally:
            cluster.stop()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
