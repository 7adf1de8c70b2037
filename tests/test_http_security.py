"""Attacks on the HTTP endpoint of a real server subprocess: tokens, Host/Origin, body size, exposure, logs."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from mcp.shared.exceptions import MCPError

from kling_mcp.config import Settings
from kling_mcp.sandbox.runner import SandboxServer
from tests.conftest import make_settings, subprocess_env, text_of
from tests.http_support import (
    INITIALIZE,
    JSON_HEADERS,
    OTHER_TOKEN,
    TOKEN,
    HttpServer,
    connect,
    free_port,
    run_server,
    server_command,
    wait_healthy,
)
from tests.names import LIST as LIST_TOOL

# Every test here starts a server process.
pytestmark = [pytest.mark.anyio, pytest.mark.slow]


@pytest.fixture(scope="module")
def secured(sandbox_server: SandboxServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpServer]:
    """One server with two tokens (one from the variable, one from a file), logging at DEBUG."""
    workdir = tmp_path_factory.mktemp("secured")
    token_file = workdir / "tokens.txt"
    token_file.write_text(f"# one token a line\n{OTHER_TOKEN}\n")
    settings = make_settings(sandbox_server, workdir)
    with run_server(
        settings,
        workdir,
        KLING_MCP_AUTH_TOKEN=TOKEN,
        KLING_MCP_AUTH_TOKEN_FILE=str(token_file),
        KLING_MCP_MAX_BODY_BYTES=str(1024 * 1024),
        KLING_MCP_LOG_LEVEL="DEBUG",
    ) as server:
        yield server


def _post(server: HttpServer, headers: dict[str, str], body: bytes | None = None) -> httpx.Response:
    content = body if body is not None else json.dumps(INITIALIZE).encode()
    with httpx.Client(timeout=10) as http:
        return http.post(server.mcp_url, headers={**JSON_HEADERS, **headers}, content=content)


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer wrong-token-0123456789abcdef",
        f"Bearer {TOKEN[:-1]}",  # a prefix of a real token
        f"Bearer {TOKEN}x",  # a real token with a suffix
        f"Basic {TOKEN}",
        "Bearer",
        TOKEN,  # no scheme
    ],
    ids=["none", "wrong", "prefix", "suffix", "basic", "empty", "no-scheme"],
)
def test_requests_without_a_valid_token_get_401(secured: HttpServer, authorization: str | None) -> None:
    response = _post(secured, {"Authorization": authorization} if authorization else {})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer ")
    assert "mcp-session-id" not in response.headers  # nothing ran: no session was opened


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_other_methods_without_a_token_get_401(secured: HttpServer, method: str) -> None:
    with httpx.Client(timeout=10) as http:
        response = http.request(method, secured.mcp_url, headers={"Accept": "text/event-stream"})
    assert response.status_code == 401
    assert "WWW-Authenticate" in response.headers


async def test_sdk_client_with_a_wrong_token_is_refused(secured: HttpServer, sandbox: SandboxServer) -> None:
    with pytest.raises(BaseExceptionGroup) as caught:
        async with connect(secured.mcp_url, "wrong-token-0123456789abcdef", mode="legacy") as client:
            await client.call_tool(LIST_TOOL, {})
    # The SDK client reports the 401 as an error response to its first request.
    assert caught.value.subgroup(MCPError) is not None
    assert sandbox.state.requests == []


@pytest.mark.parametrize("mode", ["auto", "legacy"])
@pytest.mark.parametrize("token", [TOKEN, OTHER_TOKEN], ids=["env-token", "file-token"])
async def test_a_valid_token_runs_tools(secured: HttpServer, sandbox: SandboxServer, mode: str, token: str) -> None:
    async with connect(secured.mcp_url, token, mode=mode) as client:
        tools = await client.list_tools()
        assert {t.name for t in tools.tools} >= {LIST_TOOL, "kling_generate_video_from_image"}
        result = await client.call_tool(
            "kling_generate_video_from_image",
            {"prompt": "waves", "start_image_url": "https://example.com/a.png", "timeout": 20},
        )
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    assert result.structured_content["result"]["status"] == "succeed"
    assert len(sandbox.state.creates()) == 1


def test_a_session_cannot_be_used_with_another_valid_token(secured: HttpServer) -> None:
    opened = _post(secured, {"Authorization": f"Bearer {TOKEN}"})
    session = opened.headers["mcp-session-id"]
    hijack = _post(
        secured,
        {"Authorization": f"Bearer {OTHER_TOKEN}", "mcp-session-id": session, "mcp-protocol-version": "2025-11-25"},
        json.dumps({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}).encode(),
    )
    assert hijack.status_code == 404


@pytest.mark.parametrize("host", ["evil.example.com", "evil.example.com:80", "127.0.0.1.nip.io:1234"])
def test_a_foreign_host_header_gets_421(secured: HttpServer, host: str) -> None:
    response = _post(secured, {"Authorization": f"Bearer {TOKEN}", "Host": host})
    assert response.status_code == 421


@pytest.mark.parametrize("origin", ["http://evil.example.com", "https://127.0.0.1.evil.example.com", "null"])
def test_a_foreign_origin_gets_403(secured: HttpServer, origin: str) -> None:
    response = _post(secured, {"Authorization": f"Bearer {TOKEN}", "Origin": origin})
    assert response.status_code == 403


def test_a_loopback_origin_is_accepted(secured: HttpServer) -> None:
    response = _post(secured, {"Authorization": f"Bearer {TOKEN}", "Origin": f"http://localhost:{secured.port}"})
    assert response.status_code == 200


def test_healthz_answers_without_a_token_and_says_nothing_secret(secured: HttpServer) -> None:
    with httpx.Client(timeout=10) as http:
        response = http.get(f"{secured.base_url}/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_an_oversized_body_gets_413(secured: HttpServer) -> None:
    # The server's cap is 1 MiB here; the body is well-formed JSON-RPC a little larger than that.
    big = {"jsonrpc": "2.0", "id": 3, "method": "tools/list", "params": {"_meta": {"pad": "x" * (1024 * 1024 + 10)}}}
    response = _post(secured, {"Authorization": f"Bearer {TOKEN}"}, json.dumps(big).encode())
    assert response.status_code == 413


def test_an_oversized_chunked_body_gets_413(secured: HttpServer) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: the cap must hold while the body streams in
        yield b'{"jsonrpc": "2.0", "id": 4, "method": "tools/list", "params": {"_meta": {"pad": "'
        for _ in range(20):
            yield b"y" * 65536
        yield b'"}}}'

    with httpx.Client(timeout=10) as http:
        response = http.post(
            secured.mcp_url, headers={**JSON_HEADERS, "Authorization": f"Bearer {TOKEN}"}, content=chunks()
        )
    assert response.status_code == 413


def test_an_unauthenticated_oversized_body_is_refused_before_it_is_read(secured: HttpServer) -> None:
    response = _post(secured, {}, b"z" * (2 * 1024 * 1024))
    assert response.status_code == 401


def test_tokens_never_reach_the_logs(secured: HttpServer) -> None:
    _post(secured, {"Authorization": f"Bearer {TOKEN}"})
    _post(secured, {"Authorization": "Bearer wrong-token-0123456789abcdef"})
    stderr = secured.stderr()
    assert "DEBUG" in stderr
    for secret in (TOKEN, OTHER_TOKEN, "wrong-token-0123456789abcdef"):
        assert secret not in stderr


def _start_and_wait(
    settings: Settings, tmp_path: Path, *args: str, host: str, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        server_command(free_port(), *args, host=host),
        env=subprocess_env(settings, **env),
        capture_output=True,
        text=True,
        timeout=30,
        cwd=tmp_path,
        check=False,
    )


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "example.com"])
def test_refuses_a_network_address_without_a_token(settings: Settings, tmp_path: Path, host: str) -> None:
    done = _start_and_wait(settings, tmp_path, host=host)
    assert done.returncode == 2
    assert "refusing to serve" in done.stderr
    assert "--allow-unauthenticated-network-access" in done.stderr
    assert "Uvicorn running" not in done.stderr


def test_refuses_a_weak_token(settings: Settings, tmp_path: Path) -> None:
    done = _start_and_wait(settings, tmp_path, host="127.0.0.1", KLING_MCP_AUTH_TOKEN="short")
    assert done.returncode == 2
    assert "at least 16" in done.stderr
    assert "short" not in done.stderr.replace("shortly", "")


def test_refuses_a_missing_token_file(settings: Settings, tmp_path: Path) -> None:
    done = _start_and_wait(settings, tmp_path, host="127.0.0.1", KLING_MCP_AUTH_TOKEN_FILE=str(tmp_path / "nope"))
    assert done.returncode == 2
    assert "KLING_MCP_AUTH_TOKEN_FILE" in done.stderr


def test_starts_on_a_network_address_with_the_opt_out(settings: Settings, tmp_path: Path) -> None:
    port = free_port()
    stderr_path = tmp_path / "optout.stderr"
    with (
        stderr_path.open("wb") as stderr_file,
        subprocess.Popen(
            server_command(port, "--allow-unauthenticated-network-access", host="0.0.0.0"),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr_file,
            env=subprocess_env(settings),
            cwd=tmp_path,
        ) as proc,
    ):
        server = HttpServer(proc, port, stderr_path)
        try:
            wait_healthy(server)  # reached through 127.0.0.1, which 0.0.0.0 includes
        finally:
            server.terminate()
    assert "WITHOUT AUTHENTICATION" in server.stderr()


def test_starts_on_a_network_address_with_a_token(settings: Settings, tmp_path: Path) -> None:
    with run_server(settings, tmp_path, host="0.0.0.0", KLING_MCP_AUTH_TOKEN=TOKEN) as server:
        assert _post(server, {}).status_code == 401
        assert _post(server, {"Authorization": f"Bearer {TOKEN}"}).status_code == 200


async def test_sdk_client_sees_the_busy_error(settings: Settings, sandbox: SandboxServer, tmp_path: Path) -> None:
    """With room for one call, a second call while the first waits for its video is refused clearly."""
    import anyio

    sandbox.state.config.run_seconds = 3.0
    with run_server(settings, tmp_path, KLING_MCP_AUTH_TOKEN=TOKEN, KLING_MCP_MAX_CONCURRENT_CALLS="1") as server:
        async with connect(server.mcp_url) as client, anyio.create_task_group() as tg:
            results: list[object] = []

            async def generate() -> None:
                results.append(
                    await client.call_tool(
                        "kling_generate_video_from_image",
                        {"prompt": "slow", "start_image_url": "https://example.com/a.png", "timeout": 20},
                    )
                )

            tg.start_soon(generate)
            with anyio.fail_after(10):
                while not sandbox.state.creates():
                    await anyio.sleep(0.02)
            busy = await client.call_tool(LIST_TOOL, {})
            assert busy.is_error
            assert "busy" in text_of(busy) and "nothing was billed" in text_of(busy)
        [first] = results
        assert not first.is_error  # type: ignore[attr-defined]
        async with connect(server.mcp_url) as client:
            assert not (await client.call_tool(LIST_TOOL, {})).is_error
    assert len(sandbox.state.creates()) == 1


def test_python_m_help_lists_the_opt_out_flag() -> None:
    done = subprocess.run([sys.executable, "-m", "kling_mcp", "--help"], capture_output=True, text=True, check=True)
    assert "--allow-unauthenticated-network-access" in done.stdout


async def test_the_default_body_cap_admits_an_inline_image_of_kling_s_largest_size(
    settings: Settings, sandbox: SandboxServer, tmp_path: Path
) -> None:
    """Kling takes images up to 10 MB; as base64 in JSON that is ~14 MB, under the default 16 MiB cap."""
    import base64
    import io
    import os

    from PIL import Image

    side = 1760  # random pixels do not compress: a PNG just under 10 MB
    buffer = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(buffer, format="PNG", compress_level=0)
    png = buffer.getvalue()
    assert 9_000_000 < len(png) <= 10 * 1024 * 1024
    inline = base64.b64encode(png).decode()
    with run_server(settings, tmp_path, KLING_MCP_AUTH_TOKEN=TOKEN) as server:
        async with connect(server.mcp_url) as client:
            result = await client.call_tool(
                "kling_generate_video_from_image", {"prompt": "noise", "start_image_url": inline, "timeout": 20}
            )
    assert not result.is_error, text_of(result)
    [create] = sandbox.state.creates()
    assert create.body is not None and create.body["image"] == inline
