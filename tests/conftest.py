"""Shared fixtures: a real sandbox on loopback, real settings, the real server, real MCP clients."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import pytest
from jsonschema.validators import Draft202012Validator  # type: ignore[import-untyped]
from mcp import Client, StdioServerParameters

from kling_mcp.api.retry import RetryPolicy
from kling_mcp.config import Settings
from kling_mcp.sandbox.runner import SandboxServer
from kling_mcp.sandbox.state import SandboxConfig
from kling_mcp.server.build import build_server
from kling_mcp.service.journal import JournalEntry, open_journal

if TYPE_CHECKING:
    from tests.pg_cluster import Cluster

# Retries in tests wait milliseconds, not seconds; the schedule itself is what is tested.
FAST_RETRY = RetryPolicy(
    max_attempts=6, initial_backoff=0.02, max_backoff=0.1, max_retry_after=0.3, min_rate_limit_backoff=0.02
)
ASSETS = Path(__file__).resolve().parent.parent / "src" / "kling_mcp" / "assets"
# Both protocol modes of the SDK's client in the full suite; the fast lane speaks the current one only.
PROTOCOL_MODES = ["auto", pytest.param("legacy", marks=pytest.mark.slow)]
EXAMPLE_PNG = ASSETS / "example.png"


# Events by which Python starts another program (see the audit events table of the Python docs).
PROCESS_EVENTS = frozenset({"subprocess.Popen", "os.posix_spawn", "os.spawn", "os.system", "os.exec", "os.fork"})
# The fast lane (`-m "not slow"`) stays fast only if tests that start processes carry the mark: checked, not trusted.
_running: list[pytest.Item] = []


def _refuse_processes_outside_slow_tests(event: str, _args: tuple[object, ...]) -> None:
    if event in PROCESS_EVENTS and _running and _running[-1].get_closest_marker("slow") is None:
        raise RuntimeError(
            f"{_running[-1].nodeid} starts a process ({event}) but is not marked slow: add @pytest.mark.slow "
            "(the fast lane, pytest -m 'not slow', must not start processes)"
        )


sys.addaudithook(_refuse_processes_outside_slow_tests)


# The SDK's client compiles a tool's output schema once per session, first checking the schema itself against the
# JSON Schema metaschema: ~20 ms for each of ours, and the tests open hundreds of sessions on the same few schemas.
# Each distinct schema is still checked (once per run) and every result still validated against it; only the
# verdict "this exact schema is valid" is remembered. (A schema that fails the check is checked again every time.)
def _check_each_schema_once(validator: Any) -> None:
    check = validator.check_schema
    valid: set[str] = set()

    def check_schema(schema: Any, *args: Any, **kwargs: Any) -> None:
        try:
            key = None if args or kwargs else json.dumps(schema, sort_keys=True)
        except (TypeError, ValueError):
            key = None
        if key is None or key not in valid:
            check(schema, *args, **kwargs)
            if key is not None:
                valid.add(key)

    setattr(validator, "check_schema", staticmethod(check_schema))  # noqa: B010 (mypy: assigning a method)


_check_each_schema_once(Draft202012Validator)  # the draft of schemas without $schema, as ours are


@contextmanager
def _running_test(item: pytest.Item) -> Iterator[None]:
    _running.append(item)
    try:
        yield
    finally:
        _running.pop()


# Checked while a test's fixtures are set up and while it runs. Not at teardown: that is where a module- or
# session-wide fixture a slow test started (a database, say) is stopped, after whichever test came last.
@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, object, object]:
    with _running_test(item):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    with _running_test(item):
        return (yield)


# A test that is not marked slow yet takes this long is named at the end of the run (timing is too noisy to fail on).
SLOW_CALL_SECONDS = 2.0
_too_slow: list[tuple[str, float]] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" and report.duration > SLOW_CALL_SECONDS and "slow" not in report.keywords:
        _too_slow.append((report.nodeid, report.duration))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _too_slow:
        terminalreporter.section(f"not marked slow, yet over {SLOW_CALL_SECONDS:g} s: mark them @pytest.mark.slow")
        for nodeid, seconds in _too_slow:
            terminalreporter.write_line(f"{seconds:6.2f}s {nodeid}")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def quick_tasks() -> SandboxConfig:
    """The sandbox's default for tests: a task is submitted, then processing, and done after 0.05 s."""
    return SandboxConfig(queue_seconds=0.01, run_seconds=0.04)


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[SandboxServer]:
    """One sandbox for the whole run (see `quick_tasks`)."""
    with SandboxServer(quick_tasks()) as server:
        yield server


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    """One throwaway PostgreSQL cluster for the whole run (Debian's `postgresql`; `.ci/run` installs it)."""
    from tests.pg_cluster import postgres_bin, throwaway_cluster  # here: it imports http_support, which imports us

    if postgres_bin() is None:
        pytest.skip("PostgreSQL server not installed: apt-get install -y postgresql")
    with throwaway_cluster() as cluster:
        yield cluster


@pytest.fixture
def pg_url(pg_cluster: Cluster) -> Iterator[str]:
    """The URL (with password) of a fresh, empty database for one test."""
    with pg_cluster.database() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)])
def shared_journal(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """KLING_MCP_JOURNAL for servers that share one journal, for each backend (PostgreSQL: a fresh database)."""
    if request.param == "postgresql":
        return str(request.getfixturevalue("pg_url"))
    return str(tmp_path / "journal.sqlite3")


@pytest.fixture
def sandbox(sandbox_server: SandboxServer) -> Iterator[SandboxServer]:
    """The sandbox with no tasks, requests or faults left from earlier tests."""
    sandbox_server.state.reset()
    sandbox_server.state.config = quick_tasks()
    yield sandbox_server
    sandbox_server.state.reset()


# On a busy disk SQLite's fsyncs cost ~45 ms per journal opened and closed, ~2 ms in RAM: tests keep their journals
# on tmpfs where the machine has one (removed at the end of the run).
_ram_dirs: list[Path] = []


def journal_file(tmp_path: Path) -> Path:
    """The journal file of the test whose tmp_path this is: in RAM when possible, else in tmp_path."""
    if not _ram_dirs:
        try:
            _ram_dirs.append(Path(tempfile.mkdtemp(prefix="kling-mcp-tests-", dir="/dev/shm")))
        except OSError:
            _ram_dirs.append(Path())  # no tmpfs here: stay in tmp_path
    if _ram_dirs[0] == Path():
        return tmp_path / "journal.sqlite3"
    folder = _ram_dirs[0] / hashlib.sha256(str(tmp_path).encode()).hexdigest()[:16]
    folder.mkdir(exist_ok=True)
    return folder / "journal.sqlite3"


def pytest_sessionfinish() -> None:
    for folder in _ram_dirs:
        if folder != Path():
            shutil.rmtree(folder, ignore_errors=True)


def make_settings(sandbox: SandboxServer, tmp_path: Path, **overrides: Any) -> Settings:
    """Settings pointing at the sandbox, with a journal in tmp_path and a fast poll schedule."""
    values: dict[str, Any] = {
        "KLING_API_BASE_URL": sandbox.url,
        "KLING_ACCESS_KEY": sandbox.state.config.access_key,
        "KLING_SECRET_KEY": sandbox.state.config.secret_key,
        "KLING_MCP_JOURNAL": str(journal_file(tmp_path)),
        "KLING_MCP_POLL_MIN_INTERVAL": 0.02,
        "KLING_MCP_POLL_MAX_INTERVAL": 0.08,
        "KLING_MCP_MAX_WAIT": 20,
        "KLING_MCP_HTTP_TIMEOUT": 5,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def settings(sandbox: SandboxServer, tmp_path: Path) -> Settings:
    return make_settings(sandbox, tmp_path)


@pytest.fixture
def server_factory(sandbox: SandboxServer, tmp_path: Path) -> Callable[..., Any]:
    """Build a real server against the sandbox with some settings changed."""

    def factory(**overrides: Any) -> Any:
        return build_server(make_settings(sandbox, tmp_path, **overrides), retry_policy=FAST_RETRY)

    return factory


@pytest.fixture(params=PROTOCOL_MODES)
async def client(request: pytest.FixtureRequest, settings: Settings) -> AsyncIterator[Client]:
    """A real MCP client connected in memory to the real server, in both protocol modes."""
    async with Client(build_server(settings, retry_policy=FAST_RETRY), mode=request.param) as connected:
        yield connected


def subprocess_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment of a server subprocess: the settings as variables, nothing else of ours."""
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "SYSTEMROOT", "TMPDIR")}
    env.update(
        {
            "KLING_API_BASE_URL": settings.api_base_url,
            "KLING_ACCESS_KEY": settings.access_key or "",
            "KLING_SECRET_KEY": settings.secret_key.get_secret_value() if settings.secret_key else "",
            "KLING_MCP_JOURNAL": settings.resolved_journal(),
            "KLING_MCP_POLL_MIN_INTERVAL": str(settings.poll_min_interval),
            "KLING_MCP_POLL_MAX_INTERVAL": str(settings.poll_max_interval),
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


def stdio_params(settings: Settings, *args: str, **extra_env: str) -> StdioServerParameters:
    """Launch `python -m kling_mcp` as a stdio subprocess against the sandbox."""
    return StdioServerParameters(
        command=sys.executable, args=["-m", "kling_mcp", *args], env=subprocess_env(settings, **extra_env)
    )


def journal_entries(settings: Settings) -> list[JournalEntry]:
    """Everything the server's task journal holds, newest first (opened and closed again)."""
    journal = open_journal(settings.resolved_journal())
    try:
        return journal.recent(limit=10_000)
    finally:
        journal.close()


def journal_entry(settings: Settings, any_id: str) -> JournalEntry | None:
    """The journal's entry for a Kling task id or external task id."""
    return next((e for e in journal_entries(settings) if any_id in (e.task_id, e.external_task_id)), None)


async def settled_journal_entry(
    settings: Settings, any_id: str, status: str, within: float = 5.0
) -> JournalEntry | None:
    """The journal's entry once it shows `status` (or as it is after `within` s, for the assertion to show).

    A status seen while a call waits is written by the recorder's background thread, so that no call waits for a
    journal lock: it lands just after the call has answered, not before.
    """
    with anyio.move_on_after(within):
        while (entry := journal_entry(settings, any_id)) is None or entry.status != status:
            await anyio.sleep(0.01)
    return journal_entry(settings, any_id)


def checkout_state() -> str:
    """`git status` of this checkout (untracked files included), to compare before and after a script runs."""
    root = Path(__file__).resolve().parent.parent
    if not (root / ".git").exists():
        pytest.skip("not a git checkout")
    done = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"], cwd=root, capture_output=True, text=True, check=True
    )
    return done.stdout


def text_of(result: Any) -> str:
    """All text content of a tool result."""
    return "".join(getattr(block, "text", "") for block in result.content)
