"""The callback relay's destination check: public internet addresses only, the checked address is the one used."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client
from pydantic import SecretStr

from kling_mcp.api.client import KlingClient
from kling_mcp.api.signing import JwtSigner
from kling_mcp.sandbox.runner import SandboxServer
from kling_mcp.server.build import build_server
from kling_mcp.service.callbacks.destinations import (
    DestinationRefusedError,
    DestinationUnresolvedError,
    _pinned,
    checked_destination,
    is_public,
)
from kling_mcp.service.callbacks.relay import CallbackHub
from kling_mcp.service.journal import open_journal
from kling_mcp.service.wait.poller import LocalWakeups
from tests.callback_support import user_webhook
from tests.conftest import EXAMPLE_PNG, FAST_RETRY, make_settings, text_of
from tests.names import GENERATE

pytestmark = pytest.mark.anyio

ARGS = {"prompt": "a lantern", "start_image_url": str(EXAMPLE_PNG)}


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "https://localhost/hook",  # a name: judged by what it resolves to
        "http://169.254.169.254/latest/meta-data/",  # the cloud metadata service
        "http://10.0.0.7/",
        "http://192.168.1.1/",
        "http://100.64.0.1/",  # carrier-grade NAT, shared address space
        "http://[::1]:9000/",
        "http://[fe80::1]/",
        "http://[::ffff:127.0.0.1]/",  # loopback dressed as IPv6
        "http://[64:ff9b::a9fe:a9fe]/",  # the metadata service through NAT64
        "http://[2002:7f00:1::1]:8080/",  # loopback through 6to4
        "http://[fec0::1]/",  # site-local
        "http://0.0.0.0/",
        "http://224.0.0.1/",
    ],
)
async def test_addresses_inside_the_network_are_refused(url: str) -> None:
    with pytest.raises(DestinationRefusedError, match="is not a public internet address"):
        await checked_destination(url)
    assert (await checked_destination(url, allow_private=True)).url == url  # the operator's opt-in


async def test_only_http_and_https_are_relayed() -> None:
    for url in ("ftp://8.8.8.8/x", "file:///etc/passwd", "gopher://8.8.8.8/", "http:///nohost"):
        with pytest.raises(DestinationRefusedError, match="only http"):
            await checked_destination(url, allow_private=True)


async def test_a_name_that_does_not_resolve_may_be_tried_again() -> None:
    with pytest.raises(DestinationUnresolvedError):
        await checked_destination("http://no-such-host.invalid/hook")


async def test_a_public_address_is_sent_to_as_checked_with_its_name_kept() -> None:
    to = await checked_destination("https://user:pw@8.8.8.8:8443/hook?secret=s")
    assert to.url == "https://user:pw@8.8.8.8:8443/hook?secret=s"
    assert to.headers == {"Host": "8.8.8.8:8443"} and to.extensions == {"sni_hostname": "8.8.8.8"}
    v6 = await checked_destination("http://[2001:4860:4860::8888]/h")
    assert v6.url == "http://[2001:4860:4860::8888]/h" and v6.extensions == {}


def test_public_means_globally_routable() -> None:
    assert is_public(ipaddress.ip_address("93.184.215.14"))
    assert is_public(ipaddress.ip_address("2606:4700::1111"))
    assert not is_public(ipaddress.ip_address("::ffff:10.0.0.1"))
    assert not is_public(ipaddress.ip_address("fd00::1"))  # unique local


# Verdicts written by hand: an IPv6 address carrying an IPv4 one is judged by the IPv4 address it carries.
@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("::ffff:8.8.8.8", True),  # IPv4-mapped
        ("::ffff:169.254.169.254", False),
        ("::8.8.8.8", True),  # IPv4-compatible (deprecated)
        ("::127.0.0.1", False),
        ("::10.0.0.1", False),
        ("::1", False),  # loopback (and, read as IPv4-compatible, 0.0.0.1)
        ("::", False),
        ("::ffff:0:8.8.8.8", True),  # SIIT, IPv4-translated
        ("::ffff:0:127.0.0.1", False),
        ("::ffff:0:192.168.1.1", False),
        ("64:ff9b::8.8.8.8", True),  # NAT64 well-known prefix
        ("64:ff9b::169.254.169.254", False),  # the cloud metadata service, through the operator's NAT64
        ("64:ff9b::127.0.0.1", False),
        ("64:ff9b::10.0.0.1", False),
        ("64:ff9b:1::8.8.8.8", False),  # NAT64 local-use: read as a /48 prefix this carries 0.0.0.0
        ("64:ff9b:1:808:8:808:808:808", True),  # 8.8.8.8 in every placement, /48 to /96
        ("64:ff9b:1:a00:1:a00:1a:1", False),  # as a /48 prefix: 10.0.1.10
        ("2002:808:808::1", True),  # 6to4 of 8.8.8.8
        ("2002:7f00:1::1", False),  # 6to4 of 127.0.0.1
        ("2002:a9fe:a9fe::", False),  # 6to4 of 169.254.169.254
        ("2002:c0a8:101::1", False),  # 6to4 of 192.168.1.1
        ("2001:0:4136:e378:8000:63bf:f7f7:f7f7", True),  # Teredo: server 65.54.227.120, client 8.8.8.8
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", False),  # client 127.0.0.1
        ("2001:0:4136:e378:8000:63bf:f5ff:fffe", False),  # client 10.0.0.1
        ("2001:0:a00:1:8000:63bf:f7f7:f7f7", False),  # server 10.0.0.1
        ("fec0::1", False),  # site-local (deprecated)
        ("feff::1", False),  # the top of fec0::/10
        ("fe80::1", False),  # link-local
        ("fd00::1", False),  # unique local
        ("2606:4700::1111", True),  # a plain global address
        ("2001:4860:4860::8888", True),
    ],
)
def test_an_ipv6_address_carrying_an_ipv4_one_is_judged_by_it(address: str, public: bool) -> None:
    assert is_public(ipaddress.ip_address(address)) is public


async def test_the_pinned_request_reaches_the_checked_address_and_names_the_host() -> None:
    # A name that resolved to a checked address is connected to by that address: the request must still carry the
    # name (virtual hosts, and the certificate check through SNI for https), and a later answer of the resolver for
    # the same name (DNS rebinding) plays no part. Here the "checked" address is a loopback webhook.
    with user_webhook() as hook:
        port = httpx.URL(hook.url).port
        to = _pinned(f"http://hooks.example.com:{port}/hooks/kling", ipaddress.ip_address("127.0.0.1"))
        assert to.url == f"http://127.0.0.1:{port}/hooks/kling"
        async with httpx.AsyncClient() as http:
            response = await http.post(to.url, json={"task_id": "t"}, headers=to.headers, extensions=to.extensions)
    assert response.status_code == 204
    assert hook.hosts == [f"hooks.example.com:{port}"] and hook.bodies == [{"task_id": "t"}]


def _relaying(sandbox: SandboxServer, tmp_path: Path, **extra: Any) -> Any:
    """A server that serves Kling's callbacks (so it relays them to callers' URLs), as HTTP mode builds it."""
    settings = make_settings(
        sandbox, tmp_path, KLING_MCP_PUBLIC_URL="https://mcp.example.com", KLING_MCP_CALLBACK_SECRET="s" * 32, **extra
    )
    return build_server(settings, retry_policy=FAST_RETRY, serve_callbacks=True)


async def test_a_private_callback_url_is_refused_before_anything_is_sent_when_this_server_relays(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    async with Client(_relaying(sandbox, tmp_path)) as client:
        metadata = await client.call_tool(GENERATE, {**ARGS, "callback_url": "http://169.254.169.254/latest/x"})
        nat64 = await client.call_tool(GENERATE, {**ARGS, "callback_url": "http://[64:ff9b::a9fe:a9fe]/latest/x"})
        unresolved = await client.call_tool(GENERATE, {**ARGS, "callback_url": "https://hook.invalid/k", "timeout": 0})
    assert metadata.is_error
    assert "Invalid input: callback_url: 169.254.169.254 is not a public internet address" in text_of(metadata)
    assert "No request was sent to Kling" in text_of(metadata)
    assert nat64.is_error
    assert "Invalid input: callback_url: 64:ff9b::a9fe:a9fe is not a public internet address" in text_of(nat64)
    assert not unresolved.is_error  # may resolve later: the relay tries again then
    assert len(sandbox.state.creates()) == 1  # only the second call's


async def test_where_kling_calls_the_url_itself_or_the_operator_allows_it_a_private_url_is_accepted(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    with user_webhook() as hook:
        async with Client(build_server(make_settings(sandbox, tmp_path), retry_policy=FAST_RETRY)) as client:
            direct = await client.call_tool(GENERATE, {**ARGS, "callback_url": hook.url, "timeout": 0})
        async with Client(_relaying(sandbox, tmp_path, KLING_MCP_RELAY_TO_PRIVATE_ADDRESSES=True)) as client:
            allowed = await client.call_tool(GENERATE, {**ARGS, "callback_url": hook.url, "timeout": 0})
    assert not direct.is_error and not allowed.is_error
    assert len(sandbox.state.creates()) == 2


@pytest.mark.parametrize("allow_private", [False, True])
async def test_the_relay_itself_checks_the_address_again(allow_private: bool, tmp_path: Path) -> None:
    # A name can resolve to another address by the time a callback arrives; the relay judges it again.
    journal = open_journal(tmp_path / "j.sqlite3")
    try:
        with user_webhook() as hook:
            async with httpx.AsyncClient() as http:
                kling = KlingClient(http, JwtSigner("ak", SecretStr("sk" * 16)))  # not asked: relay() only sends
                hub = CallbackHub(journal, LocalWakeups(lambda _: 0), http, kling, relay_to_private=allow_private)
                delivered = await hub.relay(hook.url, b'{"task_id": "t"}', "kmcp-x")
    finally:
        journal.close()
    assert delivered is allow_private
    assert hook.bodies == ([{"task_id": "t"}] if allow_private else [])
