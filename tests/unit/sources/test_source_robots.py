"""robots.txt decisions and their cache."""

from __future__ import annotations

from sources.robots import RobotsCache, RobotsRules, product_token, robots_url, rules_from

UA = "finsent/0.1 (financial news sentiment monitor)"
ROBOTS = b"""
User-agent: *
Disallow: /private/

User-agent: finsent
Disallow: /feeds/members
Allow: /feeds/
"""


def test_rules_apply_to_our_product_token() -> None:
    rules = rules_from(200, ROBOTS)
    assert rules.allows("https://n.example/feeds/markets.rss", UA)
    assert not rules.allows("https://n.example/feeds/members.rss", UA)
    # our own group replaces the * group
    assert rules.allows("https://n.example/private/x", UA)
    assert not rules.allows("https://n.example/private/x", "otherbot/1.0")


def test_disallow_all() -> None:
    rules = rules_from(200, b"User-agent: *\nDisallow: /\n")
    assert not rules.allows("https://n.example/rss", UA)


def test_missing_robots_allows_everything() -> None:
    for status in (404, 410, 401, 403):
        assert rules_from(status, None).allows("https://n.example/anything", UA)


def test_server_errors_and_silence_disallow() -> None:
    assert not rules_from(500, None).allows("https://n.example/rss", UA)
    assert not rules_from(503, None).allows("https://n.example/rss", UA)
    rules = rules_from(None, None, "timed out")
    assert not rules.allows("https://n.example/rss", UA) and "timed out" in rules.reason


def test_garbage_robots_is_harmless() -> None:
    assert rules_from(200, b"\x00\xff<html>nonsense</html>").allows("https://n.example/rss", UA)


def test_robots_url_and_token() -> None:
    assert robots_url("HTTPS://N.Example:8443/a/b?c#d") == "https://n.example:8443/robots.txt"
    assert product_token(UA) == "finsent"


def test_the_cache_fetches_once_per_origin_per_ttl() -> None:
    now = [0.0]
    fetched: list[str] = []

    def fetch(url: str) -> RobotsRules:
        fetched.append(url)
        return rules_from(200, ROBOTS)

    cache = RobotsCache(fetch, ttl_s=100, clock=lambda: now[0])
    for path in ("/feeds/a", "/feeds/b", "/private/c"):
        cache.rules(f"https://n.example{path}")
    cache.rules("https://other.example/x")
    assert fetched == ["https://n.example/robots.txt", "https://other.example/robots.txt"]
    now[0] = 101
    cache.rules("https://n.example/feeds/a")
    assert len(fetched) == 3


def test_failures_are_cached_briefly() -> None:
    now = [0.0]
    calls = []

    def fetch(url: str) -> RobotsRules:
        calls.append(url)
        return rules_from(503, None)

    cache = RobotsCache(fetch, ttl_s=86400, clock=lambda: now[0])
    cache.rules("https://n.example/a")
    now[0] = 299
    cache.rules("https://n.example/a")
    now[0] = 301
    cache.rules("https://n.example/a")
    assert len(calls) == 2
