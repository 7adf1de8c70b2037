"""Serving settings: every variable has a flag, the flag wins, lists and paths parse as documented."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from kling_mcp.cli.main import build_parser
from kling_mcp.http.security import HttpSecurityError, is_loopback, load_tokens, transport_security
from kling_mcp.http.settings import HttpSettings, http_settings_from
from kling_mcp.service.prepare.images import ImagePolicy


def _settings(argv: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **env: str) -> HttpSettings:
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name in [n for n in os.environ if n.startswith("KLING_MCP_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return http_settings_from(build_parser().parse_args(argv))


def test_defaults_are_stdio_on_loopback(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    http = _settings([], monkeypatch, tmp_path, PATH=os.environ["PATH"], HOST="0.0.0.0", PORT="1")
    assert (http.transport, http.host, http.port, http.path) == ("stdio", "127.0.0.1", 8000, "/mcp")
    assert not http.stateless and http.max_body_bytes == 16 * 1024 * 1024 and http.max_concurrent_calls == 64


def test_variables_and_flags_agree_and_flags_win(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    roots = [tmp_path / "a", tmp_path / "b"]
    for root in roots:
        root.mkdir()
    env = {
        "KLING_MCP_TRANSPORT": "streamable-http",
        "KLING_MCP_HOST": "10.0.0.5",
        "KLING_MCP_PORT": "9001",
        "KLING_MCP_STATELESS": "1",
        "KLING_MCP_ALLOWED_HOSTS": "mcp.example.com, mcp.example.com:*",
        "KLING_MCP_FILE_ROOTS": os.pathsep.join(map(str, roots)),
        "KLING_MCP_MAX_CONCURRENT_CALLS": "8",
    }
    from_env = _settings([], monkeypatch, tmp_path, **env)
    assert from_env.transport == "streamable-http" and from_env.host == "10.0.0.5" and from_env.port == 9001
    assert from_env.stateless and from_env.max_concurrent_calls == 8
    assert from_env.allowed_hosts == ["mcp.example.com", "mcp.example.com:*"]
    assert from_env.file_roots == [r.resolve() for r in roots]
    flags = [
        "--host",
        "127.0.0.1",
        "--port",
        "9002",
        "--allowed-host",
        "other.example.com",
        "--max-concurrent-calls",
        "2",
    ]
    from_flags = _settings(flags, monkeypatch, tmp_path, **env)
    assert from_flags.host == "127.0.0.1" and from_flags.port == 9002 and from_flags.max_concurrent_calls == 2
    assert from_flags.allowed_hosts == ["other.example.com"]
    assert from_flags.stateless  # not given as a flag: the variable stands


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"KLING_MCP_PORT": "70000"}, "KLING_MCP_PORT"),
        ({"KLING_MCP_PATH": "mcp"}, "KLING_MCP_PATH"),
        ({"KLING_MCP_FILE_ROOTS": "/no/such/dir"}, "is not a directory"),
        ({"KLING_MCP_MAX_CONCURRENT_CALLS": "0"}, "KLING_MCP_MAX_CONCURRENT_CALLS"),
    ],
)
def test_bad_values_are_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, env: dict[str, str], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        _settings([], monkeypatch, tmp_path, **env)


def test_tokens_come_from_the_variable_and_the_file(tmp_path: Path) -> None:
    token_file = tmp_path / "tokens"
    token_file.write_text("# comment\n\nfile-token-0123456789abcdef\n")
    http = HttpSettings(
        KLING_MCP_AUTH_TOKEN="env-token-0123456789abcdef, second-token-0123456789ab",
        KLING_MCP_AUTH_TOKEN_FILE=str(token_file),
    )
    tokens = [t.get_secret_value() for t in load_tokens(http)]
    assert tokens == ["env-token-0123456789abcdef", "second-token-0123456789ab", "file-token-0123456789abcdef"]
    assert "0123456789" not in repr(http)  # SecretStr


def test_a_weak_token_is_refused_without_echoing_it() -> None:
    with pytest.raises(HttpSecurityError, match="#2") as caught:
        load_tokens(HttpSettings(KLING_MCP_AUTH_TOKEN="good-token-0123456789abcdef,tiny"))
    assert "tiny" not in str(caught.value)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.0.1", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.1.2.3", False),
        ("example.com", False),
    ],
)
def test_loopback_is_recognised(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_origins_without_hosts_on_a_network_address_are_refused() -> None:
    http = HttpSettings(KLING_MCP_HOST="0.0.0.0", KLING_MCP_ALLOWED_ORIGINS="https://app.example.com")
    with pytest.raises(HttpSecurityError, match="KLING_MCP_ALLOWED_HOSTS"):
        transport_security(http)


def test_image_policy_per_transport(tmp_path: Path) -> None:
    assert ImagePolicy.for_roots([], remote=False).allow_local_files
    assert not ImagePolicy.for_roots([], remote=True).allow_local_files
    rooted = ImagePolicy.for_roots([tmp_path], remote=True)
    assert rooted.permits(tmp_path / "x.png") and not rooted.permits(tmp_path.parent / "x.png")
