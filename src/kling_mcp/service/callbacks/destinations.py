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

from kling_mcp.service.failures import InvalidInputError

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


# IPv6 forms that carry an IPv4 address: a packet to one reaches (or is translated to) that IPv4 address, so it is
# judged by the IPv4 rule, whatever `is_global` says of the IPv6 prefix. Each prefix maps to where its IPv4 address
# sits: byte slices of the 16 bytes (per RFC 6052 §2.2 for NAT64: bits 64-71 are skipped), and a mask XORed over it.
# A local-use NAT64 prefix may be any length from /48 to /96, so every placement must hold a public address. Teredo
# (RFC 4380) carries two, the Teredo server's and the client's (inverted): both must be public.
_Placement = tuple[tuple[tuple[int, int], ...], int]
_NAT64_AT: dict[int, _Placement] = {
    48: (((6, 8), (9, 11)), 0),
    56: (((7, 8), (9, 12)), 0),
    64: (((9, 13),), 0),
    96: (((12, 16),), 0),
}
_EMBEDDING: tuple[tuple[ipaddress.IPv6Network, tuple[_Placement, ...]], ...] = (
    (ipaddress.IPv6Network("::ffff:0:0/96"), (_NAT64_AT[96],)),  # IPv4-mapped
    (ipaddress.IPv6Network("::ffff:0:0:0/96"), (_NAT64_AT[96],)),  # SIIT, IPv4-translated (RFC 2765)
    (ipaddress.IPv6Network("::/96"), (_NAT64_AT[96],)),  # IPv4-compatible (deprecated); :: and ::1 fall here too
    (ipaddress.IPv6Network("64:ff9b::/96"), (_NAT64_AT[96],)),  # NAT64 well-known prefix (RFC 6052)
    (ipaddress.IPv6Network("64:ff9b:1::/48"), tuple(_NAT64_AT.values())),  # NAT64 local-use prefix (RFC 8215)
    (ipaddress.IPv6Network("2002::/16"), ((((2, 6),), 0),)),  # 6to4 (RFC 3056)
    (ipaddress.IPv6Network("2001::/32"), ((((4, 8),), 0), (((12, 16),), 0xFFFFFFFF))),  # Teredo: server, client
)
# Deprecated site-local unicast (RFC 3879): never on the public internet, though `is_global` says it is.
_SITE_LOCAL = ipaddress.IPv6Network("fec0::/10")


def embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address] | None:
    """The IPv4 addresses an IPv6 address carries (one per placement its prefix allows), or None for a plain one."""
    for network, placements in _EMBEDDING:
        if address in network:
            packed = address.packed
            return [
                ipaddress.IPv4Address(int.from_bytes(b"".join(packed[a:b] for a, b in slices), "big") ^ mask)
                for slices, mask in placements
            ]
    return None


def is_public(address: IPAddress) -> bool:
    """Whether an address is on the public internet (not loopback, private, link-local, shared, reserved, multicast).

    An IPv6 address that carries an IPv4 address (mapped, compatible, SIIT, NAT64, 6to4, Teredo) is public only if
    every IPv4 address it carries is.
    """
    if isinstance(address, ipaddress.IPv6Address):
        carried = embedded_ipv4(address)
        if carried is not None:
            return all(is_public(v4) for v4 in carried)
        if address in _SITE_LOCAL:
            return False
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
