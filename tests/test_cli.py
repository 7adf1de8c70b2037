"""The `kling-mcp` command as a person runs it: --version, check (right, wrong, missing keys; dead host), demo.

Each runs the real command in a process, so they are in the slow lane; `test_first_run.py` covers the same output
in-process for the fast lane.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kling_mcp import __version__
from kling_mcp.cli.check import run_check, spend_rule
from kling_mcp.config import Settings
from kling_mcp.sandbox.runner import SandboxServer
from tests.conftest import subprocess_env

WRONG_SECRET = "wrong-secret-key-that-signs-a-token-kling-refuses"


def run_cli(settings: Settings, cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`python -m kling_mcp ARGS` in a clean environment (no .env in cwd), output captured."""
    return subprocess.run(
        [sys.executable, "-m", "kling_mcp", *args],
        env=subprocess_env(settings, **env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.slow
def test_version_comes_from_the_package(settings: Settings, tmp_path: Path) -> None:
    done = run_cli(settings, tmp_path, "--version")
    assert done.returncode == 0
    assert done.stdout.strip() == f"kling-mcp {__version__}"


@pytest.mark.slow
def test_check_with_the_right_keys(settings: Settings, sandbox: SandboxServer, tmp_path: Path) -> None:
    done = run_cli(settings, tmp_path, "check")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "✓ Kling accepted the keys" in done.stdout
    assert f"Kling API: {sandbox.url}" in done.stdout
    assert f"task journal: {settings.resolved_journal()}" in done.stdout
    assert "keeps up to 10000 journal writes in memory" in done.stdout  # the policy while the journal is down
    assert "clients that cannot ask create WITHOUT confirmation" in done.stdout  # KLING_MCP_CONFIRM_SPEND=auto
    # One cheap authenticated request: a one-item page of the task list, nothing created.
    [request] = sandbox.state.requests
    assert (request.method, request.path, request.query) == (
        "GET",
        "/v1/videos/image2video",
        {"pageNum": "1", "pageSize": "1"},
    )
    assert request.authorization is not None and request.authorization.startswith("Bearer ")


@pytest.mark.slow
def test_check_with_wrong_keys_says_which_and_hides_the_secret(
    settings: Settings, sandbox: SandboxServer, tmp_path: Path
) -> None:
    # The flag after the subcommand, in lower case: how people type it.
    done = run_cli(settings, tmp_path, "check", "--log-level", "debug", KLING_SECRET_KEY=WRONG_SECRET)
    assert done.returncode == 1
    assert "✗ Kling refused the request: Kling error 1000" in done.stdout
    assert "request_id" in done.stdout
    assert "Copy KLING_ACCESS_KEY and KLING_SECRET_KEY again" in done.stdout
    assert "api-beijing" in done.stdout  # the other site's keys are the usual cause
    assert "DEBUG" in done.stderr, "--log-level DEBUG should reach stderr"
    for text in (done.stdout, done.stderr):
        assert WRONG_SECRET not in text
        assert "eyJ" not in text, "a JWT was printed"
    assert len(sandbox.state.requests) == 1, "an auth failure is final: no retry"


@pytest.mark.slow
def test_check_with_missing_keys_names_the_variables(
    settings: Settings, sandbox: SandboxServer, tmp_path: Path
) -> None:
    done = run_cli(settings, tmp_path, "check", KLING_ACCESS_KEY="", KLING_SECRET_KEY=" ")
    assert done.returncode == 1
    assert "Kling credentials are not configured: set KLING_ACCESS_KEY and KLING_SECRET_KEY" in done.stdout
    assert "KLING_MCP_SANDBOX=1" in done.stdout
    assert sandbox.state.requests == []


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.mark.slow
def test_check_against_an_unreachable_host_fails_fast_in_plain_words(settings: Settings, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    started = time.monotonic()
    done = run_cli(settings, tmp_path, "check", KLING_API_BASE_URL=url)
    assert done.returncode == 1
    assert time.monotonic() - started < 15, "a dead host must not keep a person waiting through the full retry budget"
    assert f"✗ Could not reach Kling at {url} (cannot reach Kling: ConnectError, connection refused)" in done.stdout
    assert "check KLING_API_BASE_URL" in done.stdout


@pytest.mark.slow
def test_check_against_something_that_is_not_kling(settings: Settings, sandbox: SandboxServer, tmp_path: Path) -> None:
    done = run_cli(settings, tmp_path, "check", KLING_API_BASE_URL=f"{sandbox.url}/not-kling")
    assert done.returncode == 1
    assert "does not answer like Kling's API" in done.stdout


@pytest.mark.slow
def test_check_in_sandbox_mode_and_with_an_invalid_setting(settings: Settings, tmp_path: Path) -> None:
    sandboxed = run_cli(settings, tmp_path, "check", KLING_MCP_SANDBOX="1", KLING_ACCESS_KEY="", KLING_SECRET_KEY="")
    assert sandboxed.returncode == 0, sandboxed.stdout + sandboxed.stderr
    assert "KLING_MCP_SANDBOX is on" in sandboxed.stdout
    invalid = run_cli(settings, tmp_path, "check", KLING_MCP_MAX_WAIT="-1")
    assert invalid.returncode == 2
    assert "invalid configuration: KLING_MCP_MAX_WAIT: Input should be greater than 0 (got '-1')" in invalid.stderr


@pytest.mark.slow
def test_demo_prints_a_finished_video_whose_file_is_still_there(settings: Settings, tmp_path: Path) -> None:
    done = run_cli(settings, tmp_path, "demo", "--task-seconds", "1", TMPDIR=str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "kling-mcp server started over stdio" in out
    assert "progress" in out and "processing · " in out
    assert re.search(r"task \S+ succeeded\n", out), out
    assert " is succeed" not in out
    # What it was expected to cost, next to what the sandbox charged (kling-v2-master std 5 s: 10 units both).
    assert "   cost: estimated 10 units (prior table), charged 10 units (sandbox units, no money)\n" in out, out
    # Every path the demo prints exists after it ended: the video it says it saved, and the folder it names.
    [saved] = re.findall(r"saved by the server \(KLING_MCP_DOWNLOAD_DIR\): (\S+) \([\d,]+ bytes, MP4\)", out)
    assert Path(saved).read_bytes()[4:8] == b"ftyp"
    [folder] = re.findall(r"video and task journal are in (\S+) ", out)
    assert Path(saved).parent == Path(folder) and (Path(folder) / "journal.sqlite3").is_file()
    # A fresh journal knows no usual duration: progress carries no total until the end (never the 50 s wait cap).
    for line in out.splitlines():
        if line.strip().startswith("progress"):
            assert " of ~" not in line and "/50" not in line, line


def test_settings_ignore_unprefixed_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """`SANDBOX=1` or `LOG_LEVEL=DEBUG` in someone's shell must not change the server: only KLING_* names count."""
    from kling_mcp.config import Settings

    for name, value in {"SANDBOX": "1", "LOG_LEVEL": "DEBUG", "ACCESS_KEY": "x", "MAX_WAIT_SECONDS": "1"}.items():
        monkeypatch.setenv(name, value)
    settings = Settings.from_environment(None)
    assert settings.sandbox is False
    assert settings.log_level == "INFO"
    assert settings.access_key is None
    assert settings.max_wait_seconds == 50


def _without_psycopg(tmp_path: Path) -> str:
    """A PYTHONPATH on which `import psycopg` fails as it does where the driver is not installed."""
    shadow = tmp_path / "no-psycopg" / "psycopg"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ModuleNotFoundError(\"No module named 'psycopg'\", name='psycopg')\n")
    return str(shadow.parent)


@pytest.mark.slow
@pytest.mark.parametrize("args", [[], ["--transport", "streamable-http"], ["check"]], ids=["stdio", "http", "check"])
def test_a_postgresql_journal_without_psycopg_is_one_line_naming_the_extra(
    settings: Settings, tmp_path: Path, args: list[str]
) -> None:
    url = "postgresql://kling:db-password-123@127.0.0.1:1/kling"
    env = {"KLING_MCP_JOURNAL": url, "PYTHONPATH": _without_psycopg(tmp_path), "KLING_MCP_PORT": str(_closed_port())}
    done = run_cli(settings, tmp_path, *args, **env)
    said = done.stdout + done.stderr
    assert "Traceback" not in said, said
    assert "db-password-123" not in said
    assert "pip install 'kling-mcp[postgres]'" in said, said
    if args == ["check"]:
        assert done.returncode == 1
        assert "✗ task journal: KLING_MCP_JOURNAL names a PostgreSQL database" in done.stdout
        assert "✓" not in done.stdout
    else:  # the server refuses to start rather than fail every call later
        assert done.returncode == 2
        [line] = done.stderr.splitlines()
        assert line.endswith(
            "ERROR kling_mcp: KLING_MCP_JOURNAL names a PostgreSQL database, but psycopg is not installed: "
            "pip install 'kling-mcp[postgres]'"
        )


@pytest.mark.slow
def test_a_bad_flag_value_names_the_flag_and_a_bad_host_is_not_a_port_problem(
    settings: Settings, tmp_path: Path
) -> None:
    port = run_cli(settings, tmp_path, "--transport", "streamable-http", "--port", "0")
    assert port.returncode == 2
    assert "invalid configuration: --port: Input should be greater than or equal to 1 (got 0)" in port.stderr
    from_variable = run_cli(settings, tmp_path, "--transport", "streamable-http", KLING_MCP_PORT="0")
    assert "invalid configuration: KLING_MCP_PORT: Input should be" in from_variable.stderr
    host = run_cli(settings, tmp_path, "sandbox", "--host", "no-such-host.invalid")
    assert host.returncode == 1
    [line] = host.stderr.splitlines()
    assert "cannot listen on no-such-host.invalid:8765: unknown address" in line
    assert line.endswith("give --host an address of this machine, such as 127.0.0.1"), line
    assert "port" not in line.split("unknown address")[1]


@pytest.mark.slow
def test_a_misspelt_variable_is_warned_about_with_the_name_meant(settings: Settings, tmp_path: Path) -> None:
    done = run_cli(settings, tmp_path, "check", KLING_MCP_SANDBOX="1", KLING_MCP_MAXWAIT="30")
    assert done.returncode == 0, done.stdout + done.stderr
    assert (
        "WARNING kling_mcp: KLING_MCP_MAXWAIT is not a kling-mcp setting and is ignored (did you mean "
        "KLING_MCP_MAX_WAIT?)" in done.stderr
    )


@pytest.mark.slow
def test_an_interrupted_demo_removes_its_folder_and_says_so(settings: Settings, tmp_path: Path) -> None:
    import signal

    command = [sys.executable, "-m", "kling_mcp", "demo", "--task-seconds", "60"]
    env = subprocess_env(settings, TMPDIR=str(tmp_path))
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            if "progress" in line:
                break
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, out + err
    [folder] = re.findall(r"Demo interrupted; its temporary folder (\S+) was removed\.", out)
    assert not Path(folder).exists()
    assert list(tmp_path.glob("kling-demo-*")) == []
    assert "Traceback" not in err, err


def test_the_demo_does_not_ask_for_keys_that_are_set(capsys: pytest.CaptureFixture[str]) -> None:
    from mcp_types import CallToolResult, TextContent

    from kling_mcp.cli.demo import _report

    task = {"task_id": "1", "status": "succeed", "videos": []}
    result = CallToolResult(content=[TextContent(type="text", text="ok")], structured_content={"result": task})
    assert _report(result, 1.0, keys_set=True) == 0
    assert _report(result, 1.0, keys_set=False) == 0
    with_keys, without = capsys.readouterr().out.split("Done.")[1:]
    assert "Configure KLING_ACCESS_KEY" not in with_keys and "kling-mcp check" in with_keys
    assert "Configure KLING_ACCESS_KEY and KLING_SECRET_KEY" in without


@pytest.mark.parametrize(
    ("mode", "said"),
    [
        ("auto", "clients that cannot ask create WITHOUT confirmation"),
        ("always", "clients that cannot ask are refused and nothing is sent"),
        ("off", "never asks"),
    ],
)
def test_check_says_what_the_spend_rule_does_for_clients_that_cannot_ask(
    settings: Settings, mode: str, said: str
) -> None:
    line = spend_rule(settings.model_copy(update={"confirm_spend": mode}))
    assert line.startswith(f"• spending (KLING_MCP_CONFIRM_SPEND={mode}): ") and said in line


@pytest.mark.parametrize(
    ("stateless", "mode", "said"),
    [
        (True, "auto", "their paid creates go ahead WITHOUT confirmation; clients on the 2026-07-28 protocol are"),
        (True, "always", "every paid create of theirs is refused (nothing is sent); clients on the 2026-07-28"),
        (True, "off", None),
        (False, "auto", None),
        (False, "always", None),
    ],
)
def test_check_warns_that_stateless_http_cannot_ask_2025_clients(
    settings: Settings, capsys: pytest.CaptureFixture[str], stateless: bool, mode: str, said: str | None
) -> None:
    """Issue 22: `--stateless` turns confirmation off (auto) or refuses every create (always) for 2025-11-25 clients;
    `kling-mcp check` (here in-process, against the sandbox) says so, naming both protocol eras."""
    assert run_check(settings.model_copy(update={"confirm_spend": mode}), stateless=stateless) == 0
    out = capsys.readouterr().out
    warning = [line for line in out.splitlines() if line.startswith("! --stateless")]
    if said is None:
        assert warning == []
    else:
        assert len(warning) == 1 and said in warning[0]
        assert f"KLING_MCP_CONFIRM_SPEND={mode}: clients on the 2025-11-25 protocol" in warning[0]
