"""robots.txt: what a fetched (or unfetchable) robots.txt says about a URL (RFC 9309).

2xx: the rules apply (to the first product token of our User-Agent). 4xx: no rules,
everything is allowed. 5xx or no answer at all: the site is treated as disallowing
everything until the robots.txt can be read. The cache keeps a decision per origin for
a time to live (failures for at most five minutes), so a feed costs one robots.txt
request per origin per TTL, not one per poll.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit
from urllib.robotparser import RobotFileParser

#: RFC 9309: crawlers must parse at least 500 KiB.
MAX_ROBOTS_BYTES = 500 * 1024
FAILURE_TTL_S = 300.0


@dataclass(frozen=True, slots=True)
class RobotsRules:
    """The decision for one origin."""

    allow_all: bool = False
    disallow_all: bool = False
    text: str = ""
    reason: str = ""

    def allows(self, url: str, user_agent: str) -> bool:
        if self.allow_all:
            return True
        if self.disallow_all:
            return False
        parser = RobotFileParser()
        parser.parse(self.text.splitlines())
        return parser.can_fetch(product_token(user_agent), url)


def product_token(user_agent: str) -> str:
    """``finsent`` of ``finsent/0.1 (...)``: what robots.txt groups are matched against."""
    return user_agent.split("/", 1)[0].split(" ", 1)[0] or user_agent


def robots_url(url: str) -> str:
    """The robots.txt of ``url``'s origin."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), "/robots.txt", "", ""))


def rules_from(status: int | None, body: bytes | None, error: str | None = None) -> RobotsRules:
    """The decision for a robots.txt answer: ``status`` None means none came."""
    if status is None:
        return RobotsRules(disallow_all=True, reason=f"robots.txt unreachable: {error}")
    if 200 <= status < 300:
        text = (body or b"")[:MAX_ROBOTS_BYTES].decode("utf-8", "replace")
        return RobotsRules(text=text, reason="robots.txt")
    if 400 <= status < 500:
        return RobotsRules(allow_all=True, reason=f"robots.txt: HTTP {status}")
    return RobotsRules(disallow_all=True, reason=f"robots.txt: HTTP {status}")


class RobotsCache:
    """Decisions per origin with a time to live; ``fetch`` is called on a miss."""

    def __init__(
        self,
        fetch: Callable[[str], RobotsRules],
        ttl_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch, self._ttl, self._clock = fetch, ttl_s, clock
        self._rules: dict[str, tuple[float, RobotsRules]] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def rules(
        self, url: str, acquire: Callable[[threading.Lock], None] | None = None
    ) -> RobotsRules:
        """The rules for ``url``'s origin. ``acquire`` takes the origin's lock while
        another caller fetches its robots.txt (it may raise, e.g. at a deadline);
        without it the wait is unbounded."""
        origin = robots_url(url)
        with self._guard:
            lock = self._locks.setdefault(origin, threading.Lock())
        if acquire is None:
            lock.acquire()
        else:
            acquire(lock)
        try:  # one fetch per origin, however many feeds ask at once
            cached = self._rules.get(origin)
            if cached is not None and cached[0] > self._clock():
                return cached[1]
            rules = self._fetch(origin)
            ttl = self._ttl if not rules.disallow_all else min(self._ttl, FAILURE_TTL_S)
            self._rules[origin] = (self._clock() + ttl, rules)
            return rules
        finally:
            lock.release()
