"""Only public http(s) addresses, unless a feed or the operator says otherwise."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from sources.addresses import (
    AddressPolicy,
    AddressRefused,
    check_address,
    check_url,
    classify,
    feed_policy,
    parse_networks,
    resolve_checked,
)

STRICT = AddressPolicy()


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("127.0.0.1", "loopback"),
        ("127.9.9.9", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("fd12:3456::1", "private"),
        ("169.254.169.254", "metadata"),
        ("169.254.170.2", "metadata"),
        ("fd00:ec2::254", "metadata"),
        ("100.100.100.200", "metadata"),
        ("169.254.1.1", "link-local"),
        ("fe80::1", "link-local"),
        ("0.0.0.0", "unspecified"),  # noqa: S104 - an address under test, not a bind
        ("::", "unspecified"),
        ("224.0.0.251", "multicast"),
        ("100.64.0.1", "not a public address"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:10.0.0.1", "private"),
        ("2002:7f00:1::1", "loopback"),
        ("2002:a9fe:a9fe::1", "metadata"),
        ("240.0.0.1", "address"),
    ],
)
def test_refused_addresses(address: str, why: str) -> None:
    reason = classify(ipaddress.ip_address(address))
    assert reason is not None and why in reason
    with pytest.raises(AddressRefused, match=why):
        check_address(address, STRICT)


@pytest.mark.parametrize("address", ["8.8.8.8", "151.101.1.69", "2606:4700::6810:84e5"])
def test_public_addresses_pass(address: str) -> None:
    assert classify(ipaddress.ip_address(address)) is None
    assert str(check_address(address, STRICT)) == address


def test_a_feed_may_allow_private_networks() -> None:
    assert str(check_address("127.0.0.1", AddressPolicy(allow_private=True))) == "127.0.0.1"
    assert str(check_address("169.254.169.254", AddressPolicy(allow_private=True)))


def test_allowed_networks_are_exact() -> None:
    policy = AddressPolicy(allowed_networks=parse_networks("10.0.0.0/24, 127.0.0.1"))
    assert str(check_address("10.0.0.7", policy)) == "10.0.0.7"
    assert str(check_address("127.0.0.1", policy)) == "127.0.0.1"
    with pytest.raises(AddressRefused, match="private"):
        check_address("10.0.1.7", policy)
    with pytest.raises(AddressRefused, match="loopback"):
        check_address("127.0.0.2", policy)


def test_bad_network_setting() -> None:
    with pytest.raises(ValueError, match="nonsense"):
        parse_networks("10.0.0.0/8, nonsense")


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://x.example/",
        "gopher://x.example/",
        "javascript:alert(1)",
        "http:///nohost",
        "http://x.example:99999/",
    ],
)
def test_only_http_urls(url: str) -> None:
    with pytest.raises(AddressRefused):
        check_url(url)


def test_url_parts() -> None:
    assert check_url("HTTPS://News.Example/feed") == ("https", "news.example", 443)
    assert check_url("http://news.example:8080/feed") == ("http", "news.example", 8080)
    assert check_url("http://[::1]:81/") == ("http", "::1", 81)


def test_a_name_is_refused_when_any_of_its_addresses_is() -> None:
    def resolver(host: str, port: int) -> list[str]:
        return {"mixed.test": ["93.184.216.34", "10.0.0.5"], "public.test": ["93.184.216.34"]}[host]

    assert resolve_checked("public.test", 80, STRICT, resolver) == ["93.184.216.34"]
    with pytest.raises(AddressRefused, match=r"mixed.test resolves to 10.0.0.5 is a private"):
        resolve_checked("mixed.test", 80, STRICT, resolver)


def test_literals_are_not_resolved() -> None:
    def resolver(host: str, port: int) -> list[str]:
        raise AssertionError("a literal needs no resolver")

    with pytest.raises(AddressRefused, match=r"^127\.0\.0\.1 is a loopback"):
        resolve_checked("127.0.0.1", 80, STRICT, resolver)
    assert resolve_checked("::1", 80, AddressPolicy(allow_private=True), resolver) == ["::1"]


def test_a_name_without_addresses() -> None:
    with pytest.raises(AddressRefused, match="no address"):
        resolve_checked("empty.test", 80, STRICT, lambda host, port: [])


# --- a feed's grant: its own networks, its own ports ----------------------------------

PROXY_NET = ipaddress.ip_network("10.1.0.0/16")


def resolver_of(table: dict[str, list[str]]) -> Any:
    def resolve(host: str, port: int) -> list[str]:
        return table[host]

    return resolve


def test_a_public_feed_is_granted_no_allowed_network() -> None:
    resolve = resolver_of({"news.example": ["93.184.216.34"], "proxy.internal": ["10.1.2.3"]})
    policy = feed_policy(
        "https://news.example/rss",
        allow_private=False,
        allowed_networks=(PROXY_NET,),
        resolver=resolve,
    )
    assert policy == AddressPolicy()
    # so a redirect from it into the allowed network is refused
    with pytest.raises(AddressRefused, match=r"10\.1\.2\.3 is a private address"):
        resolve_checked("proxy.internal", 80, policy, resolve)


def test_a_feed_in_an_allowed_network_is_granted_that_network_on_its_ports() -> None:
    resolve = resolver_of({"proxy.internal": ["10.1.2.3"]})
    other = ipaddress.ip_network("192.168.0.0/16")
    policy = feed_policy(
        "http://proxy.internal:8080/rss",
        allow_private=False,
        allow_ports=(8443,),
        allowed_networks=(PROXY_NET, other),
        resolver=resolve,
    )
    assert policy == AddressPolicy(False, (PROXY_NET,), (8080, 8443))
    assert str(check_address("10.1.9.9", policy, 8443)) == "10.1.9.9"
    with pytest.raises(AddressRefused, match="port 5432 is not one of the feed's ports"):
        check_address("10.1.2.3", policy, 5432)
    with pytest.raises(AddressRefused, match=r"192\.168\.1\.1 is a private address"):
        check_address("192.168.1.1", policy, 8080)  # allowed, but not to this feed
    assert str(check_address("8.8.8.8", policy, 5432)) == "8.8.8.8"  # public: any port


def test_allow_private_network_holds_on_the_feeds_ports_only() -> None:
    policy = feed_policy("https://127.0.0.1/rss", allow_private=True)
    assert policy == AddressPolicy(True, (), (443,))
    assert str(check_address("10.9.9.9", policy, 443)) == "10.9.9.9"
    with pytest.raises(AddressRefused, match=r"port 6379 is not one of the feed's ports \(443\)"):
        resolve_checked("127.0.0.1", 6379, policy)
    with pytest.raises(AddressRefused, match="only http and https"):
        feed_policy("ftp://127.0.0.1/rss", allow_private=True)
