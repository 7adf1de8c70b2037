"""Where the server may send a request whose address a caller chose: public internet addresses only, by default.

The callback relay POSTs Kling's callbacks to a caller's own `callback_url`, from inside the deployment's network.
Unchecked, any signed-in caller could aim it at the cloud metadata service (169.254.169.254), an admin port on
loopback or a database on the private network: server-side request forgery. A destination is judged by every address
its name resolves to, and the request then goes to an address that was judged (the name still in `Host` and in
TLS's SNI, so virtual hosts and certificates work as before): a name that resolves elsewhere a moment later (DNS
rebinding) cannot slip past the check.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

import anyio

from kling_mcp.service.errors import InvalidInputError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class DestinationRefusedError(Exception):
    """The address is not one the server may send to; the message says why (never the URL's path or query)."""


class DestinationUnresolvedError(DestinationRefusedError):
    """The name could not be resolved now; unlike a refused address, trying again later may succeed."""


@dataclass(frozen=True)
class Destination:
    """A checked request target: the URL to connect to, and the headers and extensions that keep the name."""

    url: str
    headers: dict[str, str] = field(default_factory=dict)
    extensions: dict[str, str] = field(default_factory=dict)


def is_public(address: IPAddress) -> bool:
    """Whether an address is on the public internet (not loopback, private, link-local, shared, reserved, multicast)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


async def checked_destination(url: str, *, allow_private: bool = False) -> Destination:
    """Where to send a request for `url`, or `DestinationRefusedError`; `allow_private` skips the address check."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DestinationRefusedError("only http:// and https:// addresses are allowed")
    if allow_private:
        return Destination(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        found = await anyio.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise DestinationUnresolvedError(f"{parts.hostname} cannot be resolved ({exc.strerror or exc})") from exc
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in found]
    private = [address for address in addresses if not is_public(address)]
    if not addresses:
        raise DestinationUnresolvedError(f"{parts.hostname} resolves to no address")
    if private:
        where = parts.hostname if str(private[0]) == parts.hostname else f"{parts.hostname} (resolves to {private[0]})"
        raise DestinationRefusedError(f"{where} is not a public internet address")
    return _pinned(url, addresses[0])


def _pinned(url: str, address: IPAddress) -> Destination:
    parts = urlsplit(url)
    userinfo, _, named = parts.netloc.rpartition("@")
    host = f"[{address}]" if address.version == 6 else str(address)
    netloc = (f"{userinfo}@" if userinfo else "") + host + (f":{parts.port}" if parts.port else "")
    extensions = {"sni_hostname": str(parts.hostname)} if parts.scheme == "https" else {}
    return Destination(urlunsplit(parts._replace(netloc=netloc)), {"Host": named}, extensions)


async def check_relay_target(callback_url: str | None, *, relayed: bool, allow_private: bool) -> None:
    """Refuse, before anything is sent, a caller's `callback_url` the relay would never deliver to.

    Only when this server relays (`relayed`: it serves Kling's callbacks); otherwise Kling itself calls the URL. A
    name that does not resolve right now is let through: the relay tries again later.
    """
    if not relayed or callback_url is None:
        return
    try:
        await checked_destination(callback_url, allow_private=allow_private)
    except DestinationUnresolvedError:
        return
    except DestinationRefusedError as exc:
        raise InvalidInputError(
            "callback_url",
            f"{exc}. This server receives Kling's callbacks and relays them to your callback_url, which must be a "
            "public internet address (the server's operator can allow others with "
            "KLING_MCP_RELAY_TO_PRIVATE_ADDRESSES=1)",
        ) from exc
