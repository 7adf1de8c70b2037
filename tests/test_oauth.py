"""kling-mcp as an OAuth resource server, against a real identity provider (npm oidc-provider) on loopback.

Every request goes through the real server subprocess over streamable HTTP; tokens come from the provider's token
endpoint (client credentials), from a full authorization-code + PKCE sign-in by the SDK's OAuth client, or, for the
tokens a provider would never issue (another issuer, an unpublished key), are signed here.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import httpx2
import jwt
import pytest
from mcp import Client
from mcp.client.auth import OAuthClientProvider, TokenStorage
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata, OAuthToken
from mcp.shared.exceptions import MCPError
from pydantic import AnyUrl

from kling_mcp.config import Settings
from kling_mcp.http.oauth import CLOCK_SKEW_SECONDS
from kling_mcp.sandbox.runner import SandboxServer
from tests.conftest import journal_entries, journal_entry, make_settings, text_of
from tests.http_support import INITIALIZE, JSON_HEADERS, TOKEN, HttpServer, connect, free_port, run_server
from tests.names import GENERATE, GET, LIST
from tests.oidc_support import (
    CLIENT_SECRET,
    RS_CLIENT_ID,
    IdentityProvider,
    install_oidc_provider,
    new_signing_key,
    sign,
)
from tests.tasks_support import legacy_request

pytestmark = [pytest.mark.slow, pytest.mark.anyio]

GENERATE_ARGS = {"prompt": "a kite", "start_image_url": "https://example.com/a.png", "timeout": 0.2}


@dataclass
class Deployment:
    """An identity provider and a kling-mcp server that trusts it (and one static token), on loopback."""

    idp: IdentityProvider
    server: HttpServer
    settings: Settings

    @property
    def download_dir(self) -> Path:
        return self.server.stderr_path.parent / "videos"

    @property
    def metadata_url(self) -> str:
        return f"{self.server.base_url}/.well-known/oauth-protected-resource/mcp"


@pytest.fixture(scope="session")
def oidc_modules() -> Path:
    return install_oidc_provider()


@contextmanager
def deploy(modules: Path, sandbox: SandboxServer, workdir: Path, **env: str) -> Iterator[Deployment]:
    """Start the provider, then kling-mcp with OAuth (plus introspection) and a static token beside it."""
    mcp_port = free_port()
    public_url = f"http://127.0.0.1:{mcp_port}"
    idp = IdentityProvider(modules, workdir, free_port(), f"{public_url}/mcp", [new_signing_key("key-1")])
    idp.start()
    try:
        settings = make_settings(sandbox, workdir)
        with run_server(
            settings,
            workdir,
            port=mcp_port,
            KLING_MCP_OAUTH_ISSUER=idp.issuer,
            KLING_MCP_PUBLIC_URL=public_url,
            KLING_MCP_OAUTH_CLIENT_ID=RS_CLIENT_ID,
            KLING_MCP_OAUTH_CLIENT_SECRET=CLIENT_SECRET,
            KLING_MCP_AUTH_TOKEN=TOKEN,
            KLING_MCP_LOG_LEVEL="DEBUG",
            KLING_MCP_DOWNLOAD_DIR=str(workdir / "videos"),
            **env,
        ) as server:
            yield Deployment(idp, server, settings)
    finally:
        idp.stop()


@pytest.fixture(scope="module")
def deployment(
    oidc_modules: Path, sandbox_server: SandboxServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    with deploy(oidc_modules, sandbox_server, tmp_path_factory.mktemp("oauth")) as running:
        yield running


def _post(deployment: Deployment, token: str | None, message: dict[str, Any] | None = None) -> httpx.Response:
    headers = dict(JSON_HEADERS)
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    with httpx.Client(timeout=10) as http:
        return http.post(deployment.server.mcp_url, headers=headers, content=json.dumps(message or INITIALIZE))


def _claims(deployment: Deployment, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": deployment.idp.issuer,
        "aud": deployment.idp.resource,
        "sub": "alice-svc",
        "client_id": "alice-svc",
        "scope": "kling:read kling:generate",
        "iat": now,
        "exp": now + 300,
    }
    claims.update(changes)
    return claims


async def _generate(url: str, token: str) -> str:
    async with connect(url, token) as client:
        created = await client.call_tool(GENERATE, GENERATE_ARGS)
    assert not created.is_error, text_of(created)
    assert created.structured_content is not None
    task_id: str = created.structured_content["result"]["task_id"]
    return task_id


async def _listed(url: str, token: str) -> set[str]:
    async with connect(url, token) as client:
        listed = await client.call_tool(LIST, {"limit": 200})
    assert not listed.is_error, text_of(listed)
    assert listed.structured_content is not None
    return {t["task_id"] for t in listed.structured_content["result"]}


def test_the_metadata_document_names_the_issuer_and_scopes(deployment: Deployment) -> None:
    expected = {
        "resource": deployment.idp.resource,
        "authorization_servers": [deployment.idp.issuer],
        "scopes_supported": ["kling:read", "kling:generate"],
        "bearer_methods_supported": ["header"],
        "resource_name": "kling-mcp",
    }
    for url in (deployment.metadata_url, f"{deployment.server.base_url}/.well-known/oauth-protected-resource"):
        response = httpx.get(url, timeout=10)
        assert response.status_code == 200, url
        assert response.json() == expected


def test_a_request_without_a_token_gets_401_pointing_at_the_metadata(deployment: Deployment) -> None:
    response = _post(deployment, None)
    assert response.status_code == 401
    # RFC 6750 §3.1: no error code when no credentials were sent; RFC 9728 §5.1 and the MCP spec: where to sign in.
    assert response.headers["WWW-Authenticate"] == (
        f'Bearer realm="kling-mcp", resource_metadata="{deployment.metadata_url}", scope="kling:read kling:generate"'
    )


async def test_a_token_from_the_provider_works_and_its_tasks_belong_to_its_subject(deployment: Deployment) -> None:
    token = deployment.idp.token("alice-svc")
    task_id = await _generate(deployment.server.mcp_url, token)
    assert task_id in await _listed(deployment.server.mcp_url, token)
    entry = journal_entry(deployment.settings, task_id)
    assert entry is not None
    assert entry.owner == "oauth:alice-svc"
    assert token not in deployment.server.stderr()


def _refused_tokens() -> dict[str, Any]:
    def expired(d: Deployment) -> str:
        token = d.idp.token("short-svc")  # lives 1 s
        time.sleep(1 + CLOCK_SKEW_SECONDS + 0.5)
        return token

    return {
        "other-audience": (lambda d: d.idp.token("alice-svc", resource="http://127.0.0.1:9/other"), "audience"),
        "expired": (expired, "ExpiredSignatureError"),
        "other-issuer": (lambda d: sign(_claims(d, iss="http://127.0.0.1:9"), d.idp.keys[0]), "InvalidIssuerError"),
        "unpublished-key": (lambda d: sign(_claims(d), new_signing_key("rogue")), "does not publish"),
        "unsigned": (lambda d: jwt.encode(_claims(d), "", algorithm="none"), "algorithm 'none'"),
        "no-expiry": (lambda d: sign(_claims(d, exp=None), d.idp.keys[0]), "MissingRequiredClaimError"),
        "opaque-unknown": (lambda _: "not-a-token-the-provider-knows-0123456789", "not active"),
    }


REFUSED = _refused_tokens()


@pytest.mark.parametrize("case", list(REFUSED))
def test_tokens_not_issued_for_this_server_get_401(deployment: Deployment, case: str) -> None:
    make, reason = REFUSED[case]
    token = make(deployment)
    response = _post(deployment, token)
    assert response.status_code == 401
    challenge = response.headers["WWW-Authenticate"]
    assert 'error="invalid_token"' in challenge
    assert f'resource_metadata="{deployment.metadata_url}"' in challenge
    log = deployment.server.stderr()
    assert reason in log, f"the log does not say why ({reason!r})"
    assert token not in log


def test_a_jwt_that_expired_within_the_clock_skew_is_accepted(deployment: Deployment) -> None:
    token = sign(_claims(deployment, exp=int(time.time()) - 3), deployment.idp.keys[0])
    assert CLOCK_SKEW_SECONDS >= 4  # what the docs promise: 5 s
    assert _post(deployment, token).status_code == 200


async def test_saving_a_video_needs_kling_generate_and_shows_its_path_inside_the_download_folder(
    deployment: Deployment, sandbox_server: SandboxServer
) -> None:
    url = deployment.server.mcp_url
    run_seconds = sandbox_server.state.config.run_seconds
    sandbox_server.state.config.run_seconds = 1.0  # not done when the create call returns: nothing saved yet
    try:
        task_id = await _generate(url, deployment.idp.token("alice-svc"))
    finally:
        sandbox_server.state.config.run_seconds = run_seconds
    saved = deployment.download_dir / f"kling-{task_id}.mp4"
    reader = deployment.idp.token("alice-svc", scope="kling:read")  # the same user, read-only
    async with connect(url, reader) as client:
        refused = await client.call_tool(GET, {"task_id": task_id, "wait_seconds": 20, "download": True})
        read = await client.call_tool(GET, {"task_id": task_id, "wait_seconds": 20})  # the server saves by default
    as_task = {"name": GET, "arguments": {"task_id": task_id, "wait_seconds": 20, "download": True}, "task": {}}
    async with connect(url, reader, mode="legacy") as client:
        with pytest.raises(MCPError) as task_refused:  # nor as a 2025-11-25 task
            await legacy_request(client, "tools/call", as_task)
    assert refused.is_error and "'kling:generate'" in text_of(refused), text_of(refused)
    assert "'kling:generate'" in task_refused.value.message
    assert read.structured_content is not None and not read.is_error, text_of(read)
    assert read.structured_content["result"]["status"] == "succeed"
    assert [v.get("local_path") for v in read.structured_content["result"]["videos"]] == [None]
    assert not saved.exists(), "a read-only token made the server write on its disk"

    async with connect(url, deployment.idp.token("alice-svc")) as client:
        got = await client.call_tool(GET, {"task_id": task_id, "download": True})
    assert got.structured_content is not None, text_of(got)
    assert [v["local_path"] for v in got.structured_content["result"]["videos"]] == [saved.name]
    assert saved.is_file()
    assert str(deployment.download_dir) not in json.dumps(got.model_dump(mode="json"))  # text and links included


async def test_a_read_only_token_reads_but_cannot_create(deployment: Deployment, sandbox_server: SandboxServer) -> None:
    token = deployment.idp.token("alice-svc", scope="kling:read")
    assert isinstance(await _listed(deployment.server.mcp_url, token), set)
    creates = len(sandbox_server.state.creates())
    call = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": GENERATE, "arguments": GENERATE_ARGS}}
    response = _post(deployment, token, call)
    assert response.status_code == 403
    assert response.headers["WWW-Authenticate"] == (
        f'Bearer realm="kling-mcp", error="insufficient_scope", resource_metadata="{deployment.metadata_url}", '
        'scope="kling:generate"'
    )
    with pytest.raises(Exception):  # noqa: B017 - the SDK client surfaces the 403 as a transport error
        async with connect(deployment.server.mcp_url, token) as client:
            await client.call_tool(GENERATE, GENERATE_ARGS)
    assert len(sandbox_server.state.creates()) == creates, "nothing may be created (or billed)"


def test_a_token_without_any_kling_scope_gets_403(deployment: Deployment) -> None:
    response = _post(deployment, deployment.idp.token("alice-svc", scope=""))
    assert response.status_code == 403
    assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]
    assert 'scope="kling:read"' in response.headers["WWW-Authenticate"]


def _unknown_task_message(text: str, task_id: str) -> str:
    return text.replace(task_id, "<id>")


async def test_each_owner_sees_only_their_tasks_and_another_owners_id_answers_as_unknown(
    deployment: Deployment,
) -> None:
    url = deployment.server.mcp_url
    alice, bob = deployment.idp.token("alice-svc"), deployment.idp.token("bob-svc")
    alices = {await _generate(url, alice) for _ in range(2)}
    bobs = {await _generate(url, bob) for _ in range(3)}
    alice_sees, bob_sees = await _listed(url, alice), await _listed(url, bob)
    assert alices <= alice_sees and not alice_sees & bobs
    assert bobs <= bob_sees and not bob_sees & alices

    bob_task = next(iter(bobs))
    bob_external = journal_entry(deployment.settings, bob_task)
    assert bob_external is not None
    async with connect(url, alice) as client:
        foreign = await client.call_tool(GET, {"task_id": bob_task})
        foreign_external = await client.call_tool(GET, {"task_id": bob_external.external_task_id})
        unknown = await client.call_tool(GET, {"task_id": "kmcp-0000000000000000"})
    assert foreign.is_error and foreign_external.is_error and unknown.is_error
    expected = _unknown_task_message(text_of(unknown), "kmcp-0000000000000000")
    assert _unknown_task_message(text_of(foreign), bob_task) == expected
    assert _unknown_task_message(text_of(foreign_external), bob_external.external_task_id) == expected

    async with connect(url, bob) as client:
        own = await client.call_tool(GET, {"task_id": bob_task})
    assert not own.is_error, text_of(own)


async def test_an_admin_sees_every_owners_tasks(deployment: Deployment) -> None:
    url = deployment.server.mcp_url
    alices = await _generate(url, deployment.idp.token("alice-svc"))
    bobs = await _generate(url, deployment.idp.token("bob-svc"))
    admin = deployment.idp.token("admin-svc", scope="kling:admin")
    assert {alices, bobs} <= await _listed(url, admin)
    async with connect(url, admin) as client:
        got = await client.call_tool(GET, {"task_id": bobs})
    assert not got.is_error, text_of(got)


async def test_static_tokens_keep_working_beside_oauth_as_their_own_owner(deployment: Deployment) -> None:
    url = deployment.server.mcp_url
    task_id = await _generate(url, TOKEN)
    assert task_id in await _listed(url, TOKEN)
    assert task_id not in await _listed(url, deployment.idp.token("alice-svc"))
    entry = journal_entry(deployment.settings, task_id)
    assert entry is not None and entry.owner is not None
    assert re.fullmatch(r"token:[0-9a-f]{24}", entry.owner)


async def test_opaque_tokens_are_checked_by_introspection(deployment: Deployment) -> None:
    token = deployment.idp.token("opaque-svc")
    assert token.count(".") != 2  # not a JWT
    task_id = await _generate(deployment.server.mcp_url, token)
    assert task_id in await _listed(deployment.server.mcp_url, token)
    owners = {e.owner for e in journal_entries(deployment.settings) if e.task_id == task_id}
    assert owners == {"oauth-client:opaque-svc"}  # its introspection names a client, no subject


async def test_keys_rotated_at_the_provider_are_picked_up_without_a_restart(
    oidc_modules: Path, sandbox_server: SandboxServer, tmp_path: Path
) -> None:
    with deploy(oidc_modules, sandbox_server, tmp_path) as running:
        url = running.server.mcp_url
        before = running.idp.token("alice-svc")
        await _generate(url, before)
        running.idp.rotate("key-2")
        after = running.idp.token("alice-svc")
        assert jwt.get_unverified_header(after)["kid"] == "key-2"
        await _generate(url, after)  # a key id the server had not seen: it refetched the provider's keys
        await _generate(url, before)  # the old key is still published, so its tokens still work
        assert running.server.proc.poll() is None
        assert "fetched 2 signing key(s)" in running.server.stderr()


class MemoryTokenStorage(TokenStorage):
    """Where the SDK's OAuth client keeps its registration and tokens during one test."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client_info: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


class ScriptedBrowser:
    """Plays the user's browser: follows the authorization URL through the provider's sign-in and consent pages
    (as `account`) up to the redirect back to the client, and hands the client the code from it."""

    def __init__(self, account: str, redirect_uri: str) -> None:
        self.account = account
        self.redirect_uri = redirect_uri
        self.visited: list[str] = []
        self.result: AuthorizationCodeResult | None = None

    async def open(self, authorization_url: str) -> None:
        self.visited.append(authorization_url)
        async with httpx.AsyncClient(headers={"x-test-account": self.account}, timeout=10) as browser:
            url = authorization_url
            for _ in range(10):
                response = await browser.get(url)
                assert response.status_code in (302, 303), f"{url}: {response.status_code} {response.text[:300]}"
                url = urljoin(url, response.headers["location"])
                if url.startswith(self.redirect_uri):
                    query = parse_qs(urlsplit(url).query)
                    assert "code" in query, f"the provider refused: {query}"
                    self.result = AuthorizationCodeResult(
                        code=query["code"][0], state=query["state"][0], iss=query.get("iss", [None])[0]
                    )
                    return
        raise AssertionError("the sign-in never came back to the client")

    async def callback(self) -> AuthorizationCodeResult:
        assert self.result is not None
        return self.result


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_a_client_signs_in_with_authorization_code_and_pkce_then_refreshes(
    deployment: Deployment, mode: str
) -> None:
    """The SDK's OAuth client does everything from the 401: discovery, registration, PKCE sign-in, token, refresh."""
    redirect_uri = "http://127.0.0.1:9/callback"  # never contacted: the scripted browser stops at it
    browser = ScriptedBrowser(f"carol-{mode}", redirect_uri)
    storage = MemoryTokenStorage()
    oauth = OAuthClientProvider(
        server_url=deployment.server.mcp_url,
        client_metadata=OAuthClientMetadata(
            redirect_uris=[AnyUrl(redirect_uri)],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",
            client_name="kling-mcp tests",
        ),
        storage=storage,
        redirect_handler=browser.open,
        callback_handler=browser.callback,
    )
    async with (
        httpx2.AsyncClient(auth=oauth, timeout=httpx2.Timeout(30.0, read=60.0)) as http,
        Client(streamable_http_client(deployment.server.mcp_url, http_client=http), mode=mode) as client,
    ):
        created = await client.call_tool(GENERATE, GENERATE_ARGS)
        assert not created.is_error, text_of(created)
        assert storage.client_info is not None, "the client registered itself (dynamic client registration)"
        assert storage.tokens is not None and storage.tokens.refresh_token
        first = storage.tokens.access_token
        oauth.context.token_expiry_time = time.time() - 1  # as if the token had run out: the next request refreshes
        listed = await client.call_tool(LIST, {})
        assert not listed.is_error, text_of(listed)
    assert storage.tokens.access_token != first, "the access token was refreshed"
    (authorization_url,) = browser.visited
    query = parse_qs(urlsplit(authorization_url).query)
    assert query["code_challenge_method"] == ["S256"]
    assert query["resource"] == [deployment.idp.resource]  # RFC 8707, taken from the metadata
    # From the 401's challenge (the SDK adds offline_access, which the provider advertises, for the refresh token).
    assert {"kling:read", "kling:generate"} <= set(query["scope"][0].split())
    assert created.structured_content is not None
    task_id = created.structured_content["result"]["task_id"]
    assert listed.structured_content is not None
    assert task_id in {t["task_id"] for t in listed.structured_content["result"]}
    entry = journal_entry(deployment.settings, task_id)
    assert entry is not None and entry.owner == f"oauth:carol-{mode}"


async def test_mcp_tasks_belong_to_the_same_owner_as_their_journal_entry(deployment: Deployment) -> None:
    """A task-augmented call (2025-11-25 tasks) by one user: the other user cannot see, read or list it."""
    url = deployment.server.mcp_url
    alice, bob = deployment.idp.token("alice-svc"), deployment.idp.token("bob-svc")
    async with connect(url, alice, mode="legacy") as client:
        created = await legacy_request(
            client, "tools/call", {"name": GENERATE, "arguments": GENERATE_ARGS, "task": {"ttl": 60_000}}
        )
        task_id = created["task"]["taskId"]
        own = await legacy_request(client, "tasks/get", {"taskId": task_id})
        own_list = await legacy_request(client, "tasks/list", {})
    assert own["taskId"] == task_id and task_id in [t["taskId"] for t in own_list["tasks"]]
    entry = journal_entry(deployment.settings, task_id)
    assert entry is not None and entry.owner == "oauth:alice-svc"
    async with connect(url, bob, mode="legacy") as client:
        with pytest.raises(MCPError) as foreign:
            await legacy_request(client, "tasks/get", {"taskId": task_id})
        with pytest.raises(MCPError) as unknown:
            await legacy_request(client, "tasks/get", {"taskId": "kmcp-0000000000000000"})
        bob_list = await legacy_request(client, "tasks/list", {})
    assert task_id not in [t["taskId"] for t in bob_list["tasks"]]
    assert foreign.value.error.code == unknown.value.error.code
    assert foreign.value.error.message.replace(task_id, "<id>") == unknown.value.error.message.replace(
        "kmcp-0000000000000000", "<id>"
    )


async def test_junk_opaque_tokens_cost_the_provider_little_and_turn_away_only_their_own_address(
    oidc_modules: Path, sandbox_server: SandboxServer, tmp_path: Path
) -> None:
    with deploy(oidc_modules, sandbox_server, tmp_path, KLING_MCP_OAUTH_INTROSPECTIONS_PER_MINUTE="20") as running:
        idp, url = running.idp, running.server.mcp_url
        metadata = httpx.get(f"{idp.issuer}/.well-known/openid-configuration", timeout=10).json()
        endpoint = urlsplit(metadata["introspection_endpoint"]).path
        real = idp.token("opaque-svc")

        async def post(http: httpx.AsyncClient, token: str) -> httpx.Response:
            headers = {**JSON_HEADERS, "Authorization": f"Bearer {token}"}
            return await http.post(url, headers=headers, content=json.dumps(INITIALIZE))

        async with httpx.AsyncClient(timeout=10) as attacker:  # from 127.0.0.1
            start = idp.requests("POST", endpoint)
            repeated = [(await post(attacker, "junk-repeated-0123456789abcdef")).status_code for _ in range(10)]
            after_repeated = idp.requests("POST", endpoint)
            flood = [await post(attacker, f"junk-{i:04d}-0123456789abcdef") for i in range(300)]
            after_flood = idp.requests("POST", endpoint)
        other_address = httpx.AsyncHTTPTransport(local_address="127.0.0.2")
        async with httpx.AsyncClient(timeout=10, transport=other_address) as user:
            user_real = (await post(user, real)).status_code
            user_junk = (await post(user, "junk-from-the-user-0123456789")).status_code
        log = running.server.stderr()
    assert repeated == [401] * 10 and after_repeated - start == 1  # "not active" is remembered
    statuses = [r.status_code for r in flood]
    assert set(statuses) == {401, 429} and statuses.count(429) >= 270, statuses
    # 20 a minute from one address, 1 of them spent above (and at most one more refilled while the flood ran)
    assert after_flood - after_repeated <= 20, f"{after_flood - after_repeated} introspection POSTs for 300 junk tokens"
    limited = next(r for r in flood if r.status_code == 429)
    assert 1 <= int(limited.headers["Retry-After"]) <= 3
    assert user_real == 200 and user_junk == 401  # another address is not turned away
    assert "too many tokens to introspect from 127.0.0.1" in log
    assert real not in log and "junk-0000" not in log
