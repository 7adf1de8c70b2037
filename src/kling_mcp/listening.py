"""Listening sockets for the HTTP server and the sandbox, with an error a person can act on when the port is taken."""

from __future__ import annotations

import errno
import socket


class ListenError(Exception):
    """The address cannot be listened on; the message names it and the reason, in one line.

    `port_in_use` says whether another port would help; otherwise the host is what to change (unknown name,
    an address this machine does not have).
    """

    def __init__(self, message: str, *, port_in_use: bool = False) -> None:
        self.port_in_use = port_in_use
        super().__init__(message)


def listen(host: str, port: int, backlog: int = 512) -> socket.socket:
    """A socket bound to host:port (IPv4 or IPv6) and listening; raises `ListenError` in plain words."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        raise ListenError(f"cannot listen on {host}:{port}: unknown address ({exc.strerror})") from None
    sock = socket.socket(family, kind, proto)
    try:
        # Lets a restarted server reuse the port at once; it never lets two listeners share one on Linux or macOS.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(backlog)
    except OSError as exc:
        sock.close()
        raise listen_failure(host, port, exc) from None
    return sock


def listen_failure(host: str, port: int, exc: OSError) -> ListenError:
    """The plain-words error for an address that could not be bound (also for listeners bound elsewhere)."""
    if isinstance(exc, socket.gaierror):
        return ListenError(f"cannot listen on {host}:{port}: unknown address ({exc.strerror})")
    in_use = exc.errno == errno.EADDRINUSE
    reason = "the port is already in use" if in_use else (exc.strerror or str(exc)).lower()
    return ListenError(f"cannot listen on {host}:{port}: {reason}", port_in_use=in_use)
