"""The 401 challenge follows RFC 6750 §3.1: no error code without credentials, `invalid_token` for a refused one.

In-process (the ASGI app over httpx's ASGI transport): the answer is the app's, whatever serves it.
"""

from __future__ import annotations

import httpx
import pytest
from pydantic import SecretStr

from kling_mcp.config import Settings
from kling_mcp.http.app import build_http_app
from kling_mcp.http.challenge import bare_challenge
from kling_mcp.http.settings import HttpSettings

pytestmark = pytest.mark.anyio

TOKEN = "challenge-token-0123456789abcdef"
INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}


async def _post(settings: Settings, headers: dict[str, str]) -> httpx.Response:
    app = build_http_app(settings, HttpSettings(), (SecretStr(TOKEN),)).app
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as http:
        return await http.post(
            "/mcp", json=INITIALIZE, headers={"Accept": "application/json, text/event-stream", **headers}
        )


async def test_a_request_without_credentials_gets_a_challenge_without_an_error_code(settings: Settings) -> None:
    response = await _post(settings, {})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="kling-mcp"'
    assert "error" not in response.json()
    assert response.headers["Content-Length"] == str(len(response.content))


@pytest.mark.parametrize("authorization", ["Bearer wrong-token-0123456789abcdef", f"Bearer {TOKEN}x", "Basic abc"])
async def test_refused_credentials_get_invalid_token(settings: Settings, authorization: str) -> None:
    response = await _post(settings, {"Authorization": authorization})
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert response.json()["error"] == "invalid_token"


@pytest.mark.parametrize(
    ("sdk", "ours"),
    [
        ('Bearer error="invalid_token", error_description="Authentication required"', 'Bearer realm="kling-mcp"'),
        (
            'Bearer error="invalid_token", error_description="Authentication required", '
            'resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp"',
            'Bearer realm="kling-mcp", '
            'resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp"',
        ),
    ],
)
def test_the_bare_challenge_keeps_what_oauth_clients_follow(sdk: str, ours: str) -> None:
    assert bare_challenge(sdk) == ours
