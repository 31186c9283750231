"""Which addresses a feed may be fetched from: http(s) only, public networks only.

A host name is resolved and every address it resolves to is checked; one forbidden
address refuses the host (so a name that round-robins between a public and a private
address cannot slip through). Private, loopback, link-local (which holds the cloud
metadata services), multicast, reserved, shared (CGNAT) and unspecified addresses are
refused unless the feed allows private networks or the address is in an explicitly
allowed network. The check runs again on every redirect hop and at connect time, on
the very address connected to.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], list[str]]

#: Cloud metadata services, named as such in refusals (most are link-local anyway).
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "100.100.100.200", "fd00:ec2::254")
)


class AddressRefused(ValueError):
    """A URL or address the policy does not allow; the message says which and why."""


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    allow_private: bool = False
    allowed_networks: tuple[IPNetwork, ...] = ()


def parse_networks(text: str) -> tuple[IPNetwork, ...]:
    """``10.0.0.0/8, 192.168.1.7`` as networks (``ValueError`` names a bad one)."""
    return tuple(
        ipaddress.ip_network(part, strict=False)
        for part in (p.strip() for p in text.split(","))
        if part
    )


def classify(address: IPAddress) -> str | None:
    """Why ``address`` is not a public internet address, or None when it is."""
    if isinstance(address, ipaddress.IPv6Address):
        mapped = address.ipv4_mapped or address.sixtofour
        if mapped is not None:
            return classify(mapped)
        if address.teredo is not None:
            return classify(address.teredo[1])
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    for name, flag in (
        ("an unspecified", address.is_unspecified),
        ("a loopback", address.is_loopback),
        ("a link-local", address.is_link_local),
        ("a multicast", address.is_multicast),
        ("a private", address.is_private),
        ("a reserved", address.is_reserved),
    ):
        if flag:
            return f"{name} address"
    if not address.is_global:
        return "not a public address"
    return None


def check_address(address: str, policy: AddressPolicy) -> IPAddress:
    """The parsed address if the policy allows connecting to it; else ``AddressRefused``."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if policy.allow_private or any(ip in net for net in policy.allowed_networks):
        return ip
    why = classify(ip)
    if why is not None:
        raise AddressRefused(f"{ip} is {why} (set allow_private_network on the feed to allow)")
    return ip


def check_url(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an http(s) URL, or ``AddressRefused``."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise AddressRefused(f"{url[:100]!r}: only http and https are fetched")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        raise AddressRefused(f"{url[:100]!r}: bad port") from None
    if not parts.hostname:
        raise AddressRefused(f"{url[:100]!r}: no host")
    return scheme, parts.hostname, port


def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (an IP literal resolves to itself)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def resolve_checked(
    host: str, port: int, policy: AddressPolicy, resolver: Resolver = system_resolver
) -> list[str]:
    """The addresses to connect to for ``host``: all checked, or ``AddressRefused``."""
    try:
        literal = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        literal = None
    addresses: Sequence[str] = [str(literal)] if literal is not None else resolver(host, port)
    if not addresses:
        raise AddressRefused(f"{host} resolves to no address")
    checked = []
    for address in addresses:
        try:
            checked.append(str(check_address(address, policy)))
        except AddressRefused as e:
            raise AddressRefused(str(e) if literal else f"{host} resolves to {e}") from None
    return checked
