"""Secure by default: with no tokens the server listens on loopback only."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable

Resolve = Callable[[str], list[str]]


def resolve_host(host: str) -> list[str]:
    return [str(info[4][0]) for info in socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)]


def is_loopback(host: str, resolve: Resolve = resolve_host) -> bool:
    """True when every address `host` stands for is a loopback address (127.0.0.0/8, ::1).
    An empty host or 0.0.0.0 / :: mean every interface: not loopback."""
    if not host:
        return False
    try:
        addresses = [host.strip("[]")]
        ipaddress.ip_address(addresses[0])
    except ValueError:
        try:
            addresses = resolve(host)
        except OSError:
            return False
    return bool(addresses) and all(_loopback(a) for a in addresses)


def _loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.split("%")[0]).is_loopback
    except ValueError:
        return False
