"""Settings from the environment and `.env`: which source wins, names in any case, values parsed by the model."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from kling_mcp.api.retry import DEFAULT_RETRY_POLICY
from kling_mcp.cli.main import _describe_settings_error
from kling_mcp.config import REQUEST_ATTEMPTS, Settings
from kling_mcp.http.settings import HttpSettings


@pytest.fixture(autouse=True)
def _no_kling_variables(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.upper().startswith("KLING_")]:
        monkeypatch.delenv(name)


def _env_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / ".env"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_environment_wins_over_env_file_and_arguments_win_over_both(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _env_file(
        tmp_path,
        "KLING_MCP_MAX_WAIT=120\nKLING_MCP_LOG_LEVEL=debug\nexport KLING_ACCESS_KEY='from-file'\nKLING_MCP_SANDBOX=1\n",
    )
    monkeypatch.setenv("KLING_MCP_MAX_WAIT", "200")
    monkeypatch.setenv("KLING_MCP_SANDBOX", "0")
    settings = Settings.from_environment(KLING_MCP_SANDBOX=True)  # `.env` in the working directory, by default
    assert settings.max_wait_seconds == 200  # environment over file
    assert settings.log_level == "DEBUG"  # only in the file; the model's validator upper-cases it
    assert settings.access_key == "from-file"  # dotenv's quoting and `export` understood
    assert settings.sandbox is True  # an argument over the environment


def test_names_match_in_any_case_and_other_variables_are_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("kling_mcp_port", "9100")
    monkeypatch.setenv("Kling_Mcp_Allowed_Hosts", "a.example, b.example ,")
    monkeypatch.setenv("PORT", "1")
    monkeypatch.setenv("KLING_MCP_NOT_A_SETTING", "x")
    http = HttpSettings.from_environment()
    assert http.port == 9100
    assert http.allowed_hosts == ["a.example", "b.example"]  # split by the model, not decoded as JSON


def test_the_plain_constructor_reads_nothing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _env_file(tmp_path, "KLING_MCP_MAX_WAIT=120\n")
    monkeypatch.setenv("KLING_MCP_LOG_LEVEL", "ERROR")
    settings = Settings()
    assert (settings.max_wait_seconds, settings.log_level) == (50, "INFO")
    assert Settings.from_environment(None).max_wait_seconds == 50  # no file asked for: only the environment
    assert Settings.from_environment(None).log_level == "ERROR"


def test_a_bad_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KLING_MCP_PORT", "eighty")
    with pytest.raises(ValidationError, match="KLING_MCP_PORT"):
        HttpSettings.from_environment()


def test_defaults_pass_the_validators() -> None:
    # A default is checked like a given value, as the settings library we replaced did: a bad default fails loudly.
    assert Settings().api_base_url == "https://api-singapore.klingai.com"
    assert Settings.model_config.get("validate_default") is True


@pytest.mark.parametrize(
    ("env", "minimum"),
    [
        ({"KLING_MCP_STALE_INTENT_AFTER": "3"}, "180 s"),  # the default HTTP timeout, 30 s, × 6 attempts
        ({"KLING_MCP_STALE_INTENT_AFTER": "59", "KLING_MCP_HTTP_TIMEOUT": "10"}, "60 s"),
    ],
)
def test_a_grace_shorter_than_a_create_is_refused_in_one_line(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], minimum: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError) as caught:
        Settings.from_environment(None)
    line = _describe_settings_error(caught.value)
    assert line.startswith(f"KLING_MCP_STALE_INTENT_AFTER must be at least {minimum}, the longest a create can take")
    assert "KLING_MCP_HTTP_TIMEOUT" in line and "\n" not in line


def test_a_grace_as_long_as_the_longest_create_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KLING_MCP_STALE_INTENT_AFTER", "60")
    monkeypatch.setenv("KLING_MCP_HTTP_TIMEOUT", "10")
    assert Settings.from_environment(None).stale_intent_seconds == 60
    assert Settings().stale_intent_seconds == 600  # the default passes with the default timeout


def test_the_attempts_the_grace_counts_are_the_clients() -> None:
    assert DEFAULT_RETRY_POLICY.max_attempts == REQUEST_ATTEMPTS


def test_misspelt_kling_mcp_variables_are_found_with_the_name_meant(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("KLING_MCP_DOWNLOADDIR=/videos\nKLING_MCP_JOURNAL=/j.sqlite3\n")
    environ = {"KLING_MCP_MAXWAIT": "30", "kling_mcp_port": "9000", "KLING_MCP_SHINY": "1", "PATH": "/bin"}
    from kling_mcp.environment import unknown_variables

    assert unknown_variables(environ, (Settings, HttpSettings), env_file=env_file) == [
        ("KLING_MCP_DOWNLOADDIR", "KLING_MCP_DOWNLOAD_DIR"),
        ("KLING_MCP_MAXWAIT", "KLING_MCP_MAX_WAIT"),
        ("KLING_MCP_SHINY", None),
    ]


def test_a_bad_file_root_names_its_variable_once() -> None:
    from kling_mcp.cli.main import _describe_settings_error

    with pytest.raises(ValidationError) as raised:
        HttpSettings(KLING_MCP_FILE_ROOTS="/no/such/folder")
    assert _describe_settings_error(raised.value) == "KLING_MCP_FILE_ROOTS: /no/such/folder is not a directory"
