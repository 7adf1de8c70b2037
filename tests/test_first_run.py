"""What a new user meets first: flags as people type them, `check` saying what it checked, a server started by hand
in a terminal, Ctrl-C, and a port that is taken."""

from __future__ import annotations

import json
import os
import pty
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from io import StringIO
from pathlib import Path

import httpx
import pytest

from kling_mcp.cli.check import run_check
from kling_mcp.cli.main import build_parser, main
from kling_mcp.cli.stdio import hint_if_interactive
from kling_mcp.config import Settings
from kling_mcp.sandbox.runner import SandboxServer
from tests.conftest import make_settings, subprocess_env


@pytest.mark.parametrize(
    "argv",
    [
        ["check", "--log-level", "debug"],
        ["check", "--log-level=Debug"],
        ["--log-level", "DEBUG", "check"],
        ["--log-level", "debug", "demo"],
        ["sandbox", "--log-level", "dEbUg"],
        ["--log-level", "debug"],
    ],
)
def test_log_level_is_taken_before_or_after_the_subcommand_in_any_case(argv: list[str]) -> None:
    assert build_parser().parse_args(argv).log_level == "DEBUG"


def test_without_the_flag_the_level_comes_from_the_variable_in_any_case() -> None:
    assert build_parser().parse_args(["check"]).log_level is None
    assert Settings(KLING_MCP_LOG_LEVEL="debug").log_level == "DEBUG"
    assert Settings(KLING_MCP_LOG_LEVEL=" Warning ").log_level == "WARNING"


def test_an_unknown_level_is_refused_naming_the_choices(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["check", "--log-level", "loud"])
    assert exited.value.code == 2
    assert "choose from DEBUG, INFO, WARNING, ERROR (any case); got 'loud'" in capsys.readouterr().err


def test_sandbox_help_shows_the_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["sandbox", "--help"])
    assert exited.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines to the terminal's width
    assert "--port PORT Port, 0 for any free one (default 8765)." in text
    assert "--host HOST Bind address (default 127.0.0.1)." in text


# What `check` says about journal writes kept while the journal is down (issue 26 item 20).
KEPT_WRITES = (
    "  while it is down, the server keeps up to 10000 journal writes in memory and retries them until they land; "
    "past that it drops the oldest status refreshes (Kling keeps them), never a created task's id"
)
SPENDING = (
    "• spending (KLING_MCP_CONFIRM_SPEND=auto): asks the user before each paid create where the client can ask (MCP "
    "elicitation); clients that cannot ask create WITHOUT confirmation (set always to refuse them)"
)


def _help(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as exited:
        main([*argv, "--help"])
    assert exited.value.code == 0
    # argparse wraps lines to the terminal's width, also after a hyphen
    return re.sub(r"-\s+", "-", " ".join(capsys.readouterr().out.split()))


def test_help_names_both_kinds_of_video_and_every_command_explains_itself(capsys: pytest.CaptureFixture[str]) -> None:
    top = _help(capsys)
    assert "image-to-video" in top and "text-to-video" in top
    for command in ("sandbox", "demo", "check"):
        text = _help(capsys, command)
        described = text.split("options:")[0].split("[--log-level LEVEL] ", 1)[1]
        assert len(described.split(".")) > 2, f"{command} --help has no description beyond its one line: {text}"
    assert "lists one task at Kling with your keys (nothing is created or billed)" in _help(capsys, "check")


def test_every_serving_flag_says_what_it_takes_and_its_default(capsys: pytest.CaptureFixture[str]) -> None:
    text = _help(capsys)
    assert " Repeatable." not in text and " Seconds. " not in text
    assert (
        "--shutdown-grace SECONDS Seconds running tool calls may finish in after SIGTERM or Ctrl-C (default 30)."
        in text
    )
    assert "--allowed-host HOST A Host header to accept" in text
    assert "--file-root FOLDER A folder the tools may read images from by path; repeat for more" in text


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["sandbox", "--port", "99999"], "argument --port: must be a port number from 0 to 65535; got '99999'"),
        (["sandbox", "--task-seconds", "-1"], "argument --task-seconds: must be a number of seconds above 0"),
        (["demo", "--task-seconds", "nan"], "argument --task-seconds: must be a number of seconds above 0"),
    ],
)
def test_impossible_numbers_are_refused_by_the_flag(
    capsys: pytest.CaptureFixture[str], argv: list[str], said: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(argv)
    assert exited.value.code == 2
    assert said in capsys.readouterr().err


def _check(settings: Settings, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    code = run_check(settings)
    return code, capsys.readouterr().out.splitlines()


def test_check_says_what_it_checked_before_its_verdict(
    settings: Settings, sandbox: SandboxServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines = _check(settings, capsys)
    assert code == 0
    assert lines == [
        f"• Kling API: {sandbox.url}",
        f"• access key: {sandbox.state.config.access_key[:4]}… (secret key set)",
        f"• task journal: {settings.journal}",
        KEPT_WRITES,
        "• videos are not saved (KLING_MCP_DOWNLOAD_DIR unset)",
        SPENDING,
        "✓ Kling accepted the keys; the account has no image2video tasks yet.",
    ]


def test_check_without_keys_still_says_what_it_checked(
    sandbox: SandboxServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = make_settings(
        sandbox, tmp_path, KLING_ACCESS_KEY="", KLING_SECRET_KEY="", KLING_MCP_DOWNLOAD_DIR=str(tmp_path / "videos")
    )
    code, lines = _check(settings, capsys)
    assert code == 1
    assert lines[:5] == [
        f"• Kling API: {sandbox.url}",
        "• access key: not set (secret key not set)",
        f"• task journal: {settings.journal}",
        KEPT_WRITES,
        f"• videos saved to: {tmp_path / 'videos'} (made on the first save)",
    ]
    assert lines[5] == SPENDING
    assert lines[6].startswith("✗ Kling credentials are not configured: set KLING_ACCESS_KEY and KLING_SECRET_KEY")
    assert sandbox.state.requests == []


def test_check_in_sandbox_mode_says_what_it_checked(
    sandbox: SandboxServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = make_settings(sandbox, tmp_path, KLING_MCP_SANDBOX="1", KLING_ACCESS_KEY="", KLING_SECRET_KEY="")
    code, lines = _check(settings, capsys)
    assert code == 0
    assert [line.split(":")[0] for line in lines[:5]] == [
        "• Kling API",
        "• access key",
        "• task journal",
        KEPT_WRITES.split(":")[0],
        "• videos are not saved (KLING_MCP_DOWNLOAD_DIR unset)",
    ]
    assert "built-in sandbox" in lines[0]
    assert lines[5] == SPENDING
    assert lines[6].startswith("✓ Sandbox mode")


def test_check_refuses_a_download_folder_that_is_a_file_and_contacts_no_one(
    sandbox: SandboxServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a_file = tmp_path / "videos.mp4"
    a_file.write_bytes(b"not a folder")
    settings = make_settings(sandbox, tmp_path, KLING_MCP_DOWNLOAD_DIR=str(a_file / "kling"))
    code, lines = _check(settings, capsys)
    assert code == 1
    assert lines[3] == KEPT_WRITES
    assert lines[4:] == [
        f"✗ videos saved to: {a_file / 'kling'}: cannot save there ({a_file} is a file, not a folder).",
        "  What to do: set KLING_MCP_DOWNLOAD_DIR to a folder this user can write (it is made if missing).",
        SPENDING,
        "– Kling not contacted: fix the ✗ above first (the server refuses paid calls it cannot journal or save).",
    ]
    assert sandbox.state.requests == []


@pytest.mark.parametrize("sandbox_mode", [False, True], ids=["keys", "sandbox-mode"])
def test_check_names_a_broken_journal_and_prints_no_tick_after_a_cross(
    sandbox: SandboxServer, tmp_path: Path, capsys: pytest.CaptureFixture[str], sandbox_mode: bool
) -> None:
    from tests.journal_faults import corrupt

    mode = {"KLING_MCP_SANDBOX": "1"} if sandbox_mode else {}
    settings = make_settings(sandbox, tmp_path, KLING_MCP_DOWNLOAD_DIR=str(tmp_path), **mode)
    corrupt(Path(settings.resolved_journal()))
    code, lines = _check(settings, capsys)
    assert code == 1
    [cross] = [line for line in lines if line.startswith("✗ task journal")]
    assert cross.startswith(f"✗ task journal {settings.resolved_journal()}: file is not a database (corrupt)")
    after = lines[lines.index(cross) :]
    assert not [line for line in after if line.startswith("✓")], lines
    assert f"• videos saved to: {tmp_path}" in lines, "the checks that do not depend on the journal still run"
    assert sandbox.state.requests == []


def test_a_person_at_a_terminal_is_told_what_the_server_waits_for() -> None:
    controller, terminal = os.openpty()
    try:
        with open(terminal, closefd=False) as tty:
            told = StringIO()
            assert hint_if_interactive(tty, told)
        assert "waits for an MCP client" in told.getvalue()
        assert "kling-mcp demo" in told.getvalue()
    finally:
        os.close(controller)
        os.close(terminal)


def test_a_client_on_a_pipe_is_told_nothing(tmp_path: Path) -> None:
    told = StringIO()
    with (tmp_path / "input").open("w+") as not_a_terminal:
        assert not hint_if_interactive(not_a_terminal, told)
    assert not hint_if_interactive(None, told)
    assert told.getvalue() == ""


# --- Processes: Ctrl-C and a taken port, as a person meets them --------------------------------------------------


def _initialize() -> bytes:
    message = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}},
    }
    return (json.dumps(message) + "\n").encode()


def _interrupt(proc: subprocess.Popen[bytes]) -> tuple[int, str]:
    """Ctrl-C, then the exit code and everything on stderr; the process must end by itself, promptly."""
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        pytest.fail(f"still running 15 s after Ctrl-C; stderr: {err.decode(errors='replace')}")
    return proc.returncode, err.decode(errors="replace")


@pytest.mark.slow
def test_ctrl_c_on_the_stdio_server_started_by_hand(settings: Settings) -> None:
    """In a terminal: a hint on stderr, and Ctrl-C while it serves ends it at once with no traceback."""
    controller, terminal = pty.openpty()
    command = [sys.executable, "-m", "kling_mcp"]
    with subprocess.Popen(
        command, stdin=terminal, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=subprocess_env(settings)
    ) as proc:
        os.close(terminal)
        try:
            assert proc.stderr is not None and proc.stdout is not None
            assert b"waits for an MCP client" in proc.stderr.readline()
            os.write(controller, _initialize())  # a line typed into the terminal: the server answers it
            assert b'"id":1' in proc.stdout.readline()
            code, err = _interrupt(proc)
        finally:
            os.close(controller)
    assert code == 130
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


@pytest.mark.slow
def test_ctrl_c_on_the_sandbox(settings: Settings, tmp_path: Path) -> None:
    command = [sys.executable, "-m", "kling_mcp", "sandbox", "--port", "0"]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=subprocess_env(settings), cwd=tmp_path
    ) as proc:
        assert proc.stdout is not None
        banner = proc.stdout.readline().decode()
        assert banner.startswith("Kling sandbox (a fake Kling API: no keys, no cost) listening on http://127.0.0.1:")
        url = banner.split()[-1]
        deadline = time.monotonic() + 10
        while True:  # serving: its health route answers (the socket accepts connections even before that)
            try:
                if httpx.get(f"{url}/sandbox/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the sandbox did not serve"
            time.sleep(0.05)
        code, err = _interrupt(proc)
    assert code == 130
    assert err == "", "the banner goes to stdout; Ctrl-C prints nothing (no WARNING, no traceback)"


@pytest.mark.slow
def test_ctrl_c_right_after_the_sandbox_starts(settings: Settings, tmp_path: Path) -> None:
    """Ctrl-C as soon as the banner is out, before the sandbox's web server has started: it stops all the same."""
    command = [sys.executable, "-m", "kling_mcp", "sandbox", "--port", "0"]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=subprocess_env(settings), cwd=tmp_path
    ) as proc:
        assert proc.stdout is not None
        while b"Ctrl-C stops it." not in proc.stdout.readline():
            pass
        code, err = _interrupt(proc)
    assert code == 130
    assert err == ""


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "flag"),
    [(["sandbox"], "--port"), (["--transport", "streamable-http"], "--port (or KLING_MCP_PORT)")],
    ids=["sandbox", "http"],
)
def test_a_taken_port_is_one_clear_line(
    settings: Settings, tmp_path: Path, taken_port: int, args: list[str], flag: str
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "kling_mcp", *args, "--port", str(taken_port)],
        env=subprocess_env(settings),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    [line] = done.stderr.splitlines()
    assert line.endswith(
        f"ERROR kling_mcp: cannot listen on 127.0.0.1:{taken_port}: the port is already in use; stop the program "
        f"using it or choose another port with {flag}"
    )
