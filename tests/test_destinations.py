"""The callback relay's destination check: public internet addresses only, the checked address is the one used."""

from __future__ import annotations

import ipaddress

import httpx
import pytest

from kling_mcp.service.destinations import (
    DestinationRefusedError,
    DestinationUnresolvedError,
    _pinned,
    checked_destination,
    is_public,
)
from tests.callback_support import user_webhook

pytestmark = pytest.mark.anyio


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
