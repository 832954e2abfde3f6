"""Secure by default: with no tokens the server listens on loopback only, and answers only
to loopback names there."""

from __future__ import annotations

import ipaddress
import re
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
    return bool(addresses) and all(is_loopback_address(a) for a in addresses)


def is_loopback_address(address: str) -> bool:
    """True for an address in 127.0.0.0/8 or ::1, written as such or IPv4-mapped
    (::ffff:127.0.0.1, what a dual-stack socket sees); false for names."""
    try:
        parsed = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return False
    mapped = getattr(parsed, "ipv4_mapped", None)
    return (mapped or parsed).is_loopback


_NAME = re.compile(r"[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*")
_PORT = re.compile(r"[0-9]{1,5}")


def split_authority(authority: str) -> tuple[str, int | None] | None:
    """The host and port of a Host header or an origin's `host[:port]`, the host in one
    spelling: lower case, no trailing dot, an IPv6 address without brackets and compressed
    ("[::1]:8000" gives ("::1", 8000)). None when it is no such thing."""
    text = authority.strip().lower()
    if text.startswith("["):
        host, closed, rest = text[1:].partition("]")
        if not closed:
            return None
    else:
        host, colon, port = text.partition(":")
        rest = colon + port
    if rest and not (rest.startswith(":") and _PORT.fullmatch(rest[1:])):
        return None
    name = normal_host(host, bracketed=text.startswith("["))
    return None if name is None else (name, int(rest[1:]) if rest else None)


def normal_host(host: str, *, bracketed: bool = False) -> str | None:
    """A host name or address in the one spelling `split_authority` gives; None when it is
    neither (a port, a scheme, a wildcard, an IPv6 address where brackets were needed)."""
    host = host.strip().lower().removesuffix(".")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None if bracketed or not _NAME.fullmatch(host) else host
    return address.compressed if address.version == 6 or not bracketed else None


def machine_names() -> frozenset[str]:
    """This machine's own names (its host name and fully qualified name), spelled as
    `split_authority` spells hosts. Its operator chose them, no web site can: Debian and
    Ubuntu map the host name to 127.0.1.1, so the CLI and agents on the machine dial it."""
    names = (normal_host(name) for name in (socket.gethostname(), socket.getfqdn()))
    return frozenset(name for name in names if name)


def is_loopback_name(host: str) -> bool:
    """True for a host (as `split_authority` spells it) that can only mean this machine:
    `localhost` and names under it, which browsers never ask DNS for (RFC 6761: no public
    name ends in .localhost, so no rebinding site can be one), and loopback addresses."""
    return host == "localhost" or host.endswith(".localhost") or is_loopback_address(host)
