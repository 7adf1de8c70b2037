"""The resource server's rules, each with hand-written expectations: discovery, audiences, scopes, challenges,
the key cache's refetch limits, the settings that must go together, and who owns what.

The key cache talks to a fake identity provider through httpx's own MockTransport (the transport is injected, as
in production), with a fake clock, so cooldowns are tested without waiting.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from kling_mcp.http.auth import authentication
from kling_mcp.http.issuer import Issuer, IssuerError, discovery_urls
from kling_mcp.http.oauth import canonical_resource, granted_scopes
from kling_mcp.http.resource import ProtectedResource, challenge
from kling_mcp.http.security import HttpSecurityError, owner_label
from kling_mcp.http.settings import HttpSettings
from kling_mcp.http.throttle import IntrospectionThrottle, NegativeCache, token_digest
from kling_mcp.server.access import expand_scopes
from kling_mcp.service.describe.owners import Viewer
from kling_mcp.service.journal import JournalEntry
from tests.clocks import HandClock

pytestmark = pytest.mark.anyio

ISSUER = "https://auth.example.com/realms/kling"


@pytest.mark.parametrize(
    ("issuer", "expected"),
    [
        (
            "https://auth.example.com",
            [
                "https://auth.example.com/.well-known/oauth-authorization-server",
                "https://auth.example.com/.well-known/openid-configuration",
            ],
        ),
        (
            "https://tenant.auth0.com/",
            [
                "https://tenant.auth0.com/.well-known/oauth-authorization-server",
                "https://tenant.auth0.com/.well-known/openid-configuration",
            ],
        ),
        (
            "https://auth.example.com/realms/kling",
            [
                "https://auth.example.com/.well-known/oauth-authorization-server/realms/kling",
                "https://auth.example.com/.well-known/openid-configuration/realms/kling",
                "https://auth.example.com/realms/kling/.well-known/openid-configuration",
            ],
        ),
    ],
)
def test_discovery_tries_the_spec_s_addresses_in_order(issuer: str, expected: list[str]) -> None:
    assert discovery_urls(issuer) == expected


@pytest.mark.parametrize(
    ("audience", "same"),
    [
        ("https://mcp.example.com/mcp", True),
        ("HTTPS://MCP.Example.com/mcp", True),
        ("https://mcp.example.com/mcp/", True),
        ("https://mcp.example.com/MCP", False),  # paths are case-sensitive
        ("https://mcp.example.com", False),
        ("https://other.example.com/mcp", False),
    ],
)
def test_audiences_compare_as_the_spec_allows(audience: str, same: bool) -> None:
    assert (canonical_resource(audience) == canonical_resource("https://mcp.example.com/mcp")) is same


@pytest.mark.parametrize(
    ("claims", "scopes"),
    [
        ({"scope": "kling:read  kling:generate"}, ["kling:read", "kling:generate"]),
        ({"scp": ["kling:read"]}, ["kling:read"]),
        ({"scp": "kling:admin"}, ["kling:admin"]),
        ({}, []),
    ],
)
def test_scopes_are_read_from_scope_or_scp(claims: dict[str, Any], scopes: list[str]) -> None:
    assert granted_scopes(claims) == scopes


def test_broader_scopes_imply_narrower_ones() -> None:
    assert expand_scopes(["kling:admin"]) == ["kling:admin", "kling:generate", "kling:read"]
    assert expand_scopes(["openid", "kling:generate"]) == ["openid", "kling:generate", "kling:read"]
    assert expand_scopes(["kling:read"]) == ["kling:read"]


RESOURCE = ProtectedResource(resource="https://mcp.example.com/mcp", issuer=ISSUER)
METADATA = "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"


def test_challenges() -> None:
    assert challenge(401, had_credentials=False, resource=RESOURCE, scope="kling:read kling:generate") == (
        f'Bearer realm="kling-mcp", resource_metadata="{METADATA}", scope="kling:read kling:generate"'
    )
    assert challenge(401, had_credentials=True, resource=None, scope="x") == (
        'Bearer realm="kling-mcp", error="invalid_token", '
        'error_description="The access token is missing, expired, revoked, or not issued for this server"'
    )
    assert challenge(403, had_credentials=True, resource=RESOURCE, scope="kling:generate") == (
        f'Bearer realm="kling-mcp", error="insufficient_scope", resource_metadata="{METADATA}", scope="kling:generate"'
    )


class FakeProvider:
    """Answers discovery and JWKS requests; counts JWKS fetches; its key set can change or break."""

    def __init__(self, issuer: str = ISSUER) -> None:
        self.issuer = issuer
        self.kids = ["k1"]
        self.jwks_fetches = 0
        self.broken = False

    def handle(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        if url == "https://auth.example.com/.well-known/oauth-authorization-server/realms/kling":
            return httpx.Response(404)
        if url == "https://auth.example.com/.well-known/openid-configuration/realms/kling":
            return httpx.Response(200, json={"issuer": self.issuer, "jwks_uri": "https://auth.example.com/jwks"})
        if url == "https://auth.example.com/jwks":
            self.jwks_fetches += 1
            if self.broken:
                return httpx.Response(503)
            keys = [{"kty": "RSA", "kid": kid, "n": "AQAB", "e": "AQAB"} for kid in self.kids]
            return httpx.Response(200, content=json.dumps({"keys": keys}))
        return httpx.Response(404)


def _issuer(provider: FakeProvider, clock: HandClock) -> Issuer:
    http = httpx.AsyncClient(transport=httpx.MockTransport(provider.handle))
    return Issuer(ISSUER, http, clock=clock, cooldown=30.0, max_age=3600.0)


async def test_an_unknown_key_id_refetches_the_keys_at_most_once_per_cooldown() -> None:
    provider, clock = FakeProvider(), HandClock()
    issuer = _issuer(provider, clock)
    assert (await issuer.signing_key("k1") or {}).get("kid") == "k1"
    assert provider.jwks_fetches == 1
    provider.kids = ["k2", "k1"]  # the provider rotated
    clock.now += 1
    assert (await issuer.signing_key("k2") or {}).get("kid") == "k2"
    assert provider.jwks_fetches == 2
    for made_up in ("x1", "x2", "x3"):  # a flood of made-up key ids within the cooldown: no request
        clock.now += 1
        assert await issuer.signing_key(made_up) is None
    assert provider.jwks_fetches == 2
    clock.now += 30
    assert await issuer.signing_key("x4") is None
    assert provider.jwks_fetches == 3


async def test_keys_are_refreshed_when_old_and_kept_when_the_provider_is_down() -> None:
    provider, clock = FakeProvider(), HandClock()
    issuer = _issuer(provider, clock)
    assert await issuer.signing_key("k1") is not None
    provider.broken = True
    clock.now += 3601
    assert await issuer.signing_key("k1") is not None  # refresh failed: the old keys still verify
    clock.now += 1
    assert await issuer.signing_key("k1") is not None
    assert provider.jwks_fetches == 2  # not asked again on every request while it is down
    provider.broken = False
    provider.kids = ["k2"]  # k1 withdrawn
    clock.now += 3601
    assert await issuer.signing_key("k1") is None


async def test_metadata_naming_another_issuer_is_refused() -> None:
    issuer = _issuer(FakeProvider(issuer="https://evil.example.com/realms/kling"), HandClock())
    with pytest.raises(IssuerError, match="names issuer"):
        await issuer.signing_key("k1")


def _http(**values: Any) -> HttpSettings:
    return HttpSettings(**values)


@pytest.mark.parametrize(
    ("values", "public_url", "message"),
    [
        ({"KLING_MCP_OAUTH_ISSUER": ISSUER}, None, "needs KLING_MCP_PUBLIC_URL"),
        ({"KLING_MCP_OAUTH_ISSUER": "http://auth.example.com"}, "https://m.example.com", "must be an https URL"),
        ({"KLING_MCP_OAUTH_ISSUER": ISSUER}, "http://mcp.example.com", "must be an https URL"),
        (
            {"KLING_MCP_OAUTH_ISSUER": ISSUER, "KLING_MCP_OAUTH_CLIENT_ID": "rs"},
            "https://mcp.example.com",
            "both KLING_MCP_OAUTH_CLIENT_ID and KLING_MCP_OAUTH_CLIENT_SECRET",
        ),
        ({"KLING_MCP_OAUTH_CLIENT_ID": "rs"}, None, "KLING_MCP_OAUTH_ISSUER is not"),
    ],
)
def test_oauth_settings_that_cannot_work_stop_the_server(
    values: dict[str, str], public_url: str | None, message: str
) -> None:
    with pytest.raises(HttpSecurityError, match=message):
        authentication(_http(**values), (), public_url)


async def test_the_resource_identifier_is_the_public_url_plus_the_path() -> None:
    http = _http(KLING_MCP_OAUTH_ISSUER=ISSUER, KLING_MCP_PATH="/kling/mcp")
    auth = authentication(http, (), "https://mcp.example.com/")
    assert auth is not None and auth.resource is not None and auth.issuer_http is not None
    assert auth.resource.resource == "https://mcp.example.com/kling/mcp"
    assert auth.resource.metadata_url == "https://mcp.example.com/.well-known/oauth-protected-resource/kling/mcp"
    await auth.issuer_http.aclose()


def test_a_static_token_s_owner_label_is_stable_and_does_not_contain_it() -> None:
    token = SecretStr("a-static-token-0123456789")
    label = owner_label(token)
    assert label == owner_label(SecretStr("a-static-token-0123456789"))
    assert label != owner_label(SecretStr("a-static-token-0123456780"))
    assert label.startswith("token:") and "0123456789" not in label and len(label) == len("token:") + 24


def test_a_viewer_sees_their_own_entries_and_an_admin_all() -> None:
    def entry(owner: str | None) -> JournalEntry:
        return JournalEntry(external_task_id="kmcp-1", endpoint="image2video", model="m", prompt="p", owner=owner)

    alice, admin = Viewer("oauth:alice"), Viewer("oauth:root", sees_all=True)
    assert alice.may_see(entry("oauth:alice"))
    assert not alice.may_see(entry("oauth:bob"))
    assert not alice.may_see(entry(None))  # from before owners existed
    assert not alice.may_see(None)
    assert admin.may_see(entry("oauth:bob")) and admin.may_see(entry(None))
    assert (alice.owner_filter, admin.owner_filter) == ("oauth:alice", None)


def test_introspections_are_limited_per_address_and_refill_at_the_set_rate() -> None:
    clock = HandClock()
    throttle = IntrospectionThrottle(6, clock=clock)  # 6 at once, then one every 10 s
    attacker = [throttle.take("203.0.113.9") for _ in range(8)]
    assert attacker[:6] == [None] * 6
    assert attacker[6] == pytest.approx(10.0) and attacker[7] == pytest.approx(10.0)
    assert throttle.take("198.51.100.7") is None  # another address keeps its whole bucket
    clock.now += 4.0
    assert throttle.take("203.0.113.9") == pytest.approx(6.0)
    clock.now += 6.0
    assert throttle.take("203.0.113.9") is None
    assert throttle.take("203.0.113.9") == pytest.approx(10.0)


def test_a_not_active_answer_is_remembered_briefly_by_digest_and_the_cache_is_bounded() -> None:
    clock = HandClock()
    cache = NegativeCache(30.0, size=3, clock=clock)
    junk = [token_digest(f"junk-{n}") for n in range(4)]
    assert token_digest("abc").hex() == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"  # SHA-256
    cache.remember(junk[0])
    assert cache.refused(junk[0]) and not cache.refused(junk[1])
    clock.now += 29.0
    assert cache.refused(junk[0])
    clock.now += 1.0
    assert not cache.refused(junk[0])  # 30 s later the provider is asked again
    for digest in junk:
        cache.remember(digest)
    assert [cache.refused(d) for d in junk] == [False, True, True, True]  # three at most: the oldest went
    off = NegativeCache(0.0, clock=clock)
    off.remember(junk[0])
    assert not off.refused(junk[0])
