"""Which addresses a feed may be fetched from: http(s) only, public networks only.

A host name is resolved and every address it resolves to is checked; one forbidden
address refuses the host (so a name that round-robins between a public and a private
address cannot slip through). Private, loopback, link-local (which holds the cloud
metadata services), multicast, reserved, shared (CGNAT) and unspecified addresses are
refused unless the feed is granted them: ``allow_private_network`` on the feed grants
every non-public network; an operator's allowed network (``FINSENT_FEEDS_ALLOWED_NETWORKS``)
is granted only to the feeds whose own URL is in it. A grant holds for that feed's own
requests and redirects, and only on the port of the feed's URL and the feed's
``allow_ports`` (``feed_policy``): a feed cannot be redirected into a network it was not
granted, nor to another port of a host it may reach (a database next to the news proxy).
The check runs again on every redirect hop and at connect time, on the very address
connected to."""

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
    """What one feed's requests may connect to beyond the public internet.

    ``allow_private``: every non-public address; ``allowed_networks``: these networks;
    ``ports``: the only ports a non-public address may be connected on (None: any).
    Public addresses are allowed on every port.
    """

    allow_private: bool = False
    allowed_networks: tuple[IPNetwork, ...] = ()
    ports: tuple[int, ...] | None = None


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


def check_address(address: str, policy: AddressPolicy, port: int | None = None) -> IPAddress:
    """The parsed address if the policy allows connecting to it (on ``port``, when
    given); else ``AddressRefused``."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    why = classify(ip)
    if why is None:
        return ip
    if not (policy.allow_private or any(ip in net for net in policy.allowed_networks)):
        raise AddressRefused(f"{ip} is {why} (set allow_private_network on the feed to allow)")
    if port is not None and policy.ports is not None and port not in policy.ports:
        allowed = ", ".join(str(p) for p in policy.ports)
        raise AddressRefused(
            f"{ip} is {why} and port {port} is not one of the feed's ports ({allowed}); "
            "list it in allow_ports on the feed to allow"
        )
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
            checked.append(str(check_address(address, policy, port)))
        except AddressRefused as e:
            raise AddressRefused(str(e) if literal else f"{host} resolves to {e}") from None
    return checked


def feed_policy(
    url: str,
    *,
    allow_private: bool,
    allow_ports: Sequence[int] = (),
    allowed_networks: Sequence[IPNetwork] = (),
    resolver: Resolver = system_resolver,
) -> AddressPolicy:
    """The policy of one fetch of the feed at ``url``: ``allow_private`` grants every
    non-public network, an allowed network is granted only when the feed's own host
    resolves into it; either only on the URL's port and ``allow_ports``. A feed granted
    nothing gets the strict policy (public addresses, any port). ``AddressRefused`` for
    a URL that is not http(s); ``OSError`` when its host cannot be resolved (only asked
    when there are allowed networks)."""
    _, host, port = check_url(url)
    networks: tuple[IPNetwork, ...] = ()
    if allowed_networks:
        try:
            addresses = [ipaddress.ip_address(host.strip("[]"))]
        except ValueError:
            addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in resolver(host, port)]
        networks = tuple(n for n in allowed_networks if any(a in n for a in addresses))
    if not allow_private and not networks:
        return AddressPolicy()
    return AddressPolicy(allow_private, networks, tuple(sorted({port, *allow_ports})))
