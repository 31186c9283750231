"""The feed list: a YAML file of feeds, checked entry by entry, errors naming the line.

```yaml
feeds:
  - name: example-markets          # unique; becomes the items' source
    url: https://example.com/markets.rss
    interval: 5m                   # seconds, or 90s / 5m / 1h
    enabled: true                  # optional, default true
    topics: [banks]                # optional: topics every item of this feed is about
    lang: zh                       # optional: the items' language, whatever the feed says
    allow_private_network: false   # optional: may resolve to private/loopback addresses
    allow_ports: [8443]            # optional: further ports its private addresses may use
```

A feed's private-network grant (``allow_private_network``, or an operator's allowed
network its URL is in) holds for its own requests and redirects, on the port of its URL
and the ports of ``allow_ports`` only (``sources.addresses.feed_policy``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from core.errors import ConfigFileError
from core.yamlfile import LINE_KEY, load_yaml, where
from streams.language import primary_language
from streams.tagging import TOPIC_NAME_RE

#: The example feed list shipped with finsent (real public feeds).
EXAMPLE_FEEDS = Path(__file__).resolve().parent / "data" / "feeds.example.yaml"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._:-]{0,99}$")
MIN_INTERVAL_S = 1.0
MAX_INTERVAL_S = 7 * 86_400.0
MAX_URL_CHARS = 2_048
_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$")
_UNITS = {None: 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86_400.0}
_KEYS = {
    "name",
    "url",
    "interval",
    "enabled",
    "topics",
    "lang",
    "allow_private_network",
    "allow_ports",
}
MAX_ALLOW_PORTS = 32


@dataclass(frozen=True, slots=True)
class Feed:
    """One feed to poll."""

    name: str
    url: str
    interval_s: float
    enabled: bool = True
    topics: tuple[str, ...] = ()
    allow_private_network: bool = False
    allow_ports: tuple[int, ...] = ()
    #: The items' language (a primary subtag), over the feed's own declaration; None:
    #: the feed's, else each item's script (``streams.language``).
    lang: str | None = None


def parse_duration(value: Any) -> float:
    """Seconds from a number or text such as ``90``, ``90s``, ``5m``, ``1h``, ``1d``."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and (match := _DURATION_RE.match(value)):
        number, unit = match.group(1, 2)
        return float(number) * _UNITS[unit]
    raise ValueError(f"{str(value)[:40]!r} is not a duration (seconds, or 90s, 5m, 1h, 1d)")


def check_feed_url(value: Any) -> str:
    """The URL, stripped, if it is an absolute http(s) URL; else ``ValueError``."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError("url must be text")
    url: str = value.strip()
    if len(url) > MAX_URL_CHARS:
        raise ValueError(f"url is {len(url):,} characters; at most {MAX_URL_CHARS:,}")
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError(f"url {url[:80]!r}: only http and https are polled")
    if not parts.hostname:
        raise ValueError(f"url {url[:80]!r} has no host")
    if parts.username or parts.password:
        raise ValueError(f"url {url[:80]!r}: credentials in the URL are not supported")
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise ValueError(f"url {url[:80]!r} contains whitespace or control characters")
    return url


def check_ports(value: Any) -> tuple[int, ...]:
    """A list of TCP port numbers, sorted and each once; else ``ValueError``."""
    if (
        not isinstance(value, list)
        or not value
        or len(value) > MAX_ALLOW_PORTS
        or not all(
            isinstance(p, int) and not isinstance(p, bool) and 1 <= p <= 65_535 for p in value
        )
    ):
        raise ValueError(
            f"allow_ports must be a list of 1-{MAX_ALLOW_PORTS} port numbers (1-65535), "
            f"e.g. [8080], got {str(value)[:60]!r}"
        )
    return tuple(sorted(set(value)))


def build_feed(entry: Any) -> Feed:
    """One feed from its YAML mapping; ``ValueError`` says what is wrong with it."""
    if not isinstance(entry, dict):
        raise ValueError("each feed must be a mapping with at least name and url")
    unknown = sorted(str(k) for k in entry if k != LINE_KEY and k not in _KEYS)
    if unknown:
        raise ValueError(
            f"unknown key(s) {', '.join(unknown)}; expected {', '.join(sorted(_KEYS))}"
        )
    name = entry.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise ValueError(
            f"name {name!r} must be 1-100 characters of letters, digits, space and ._:-"
        )
    url = check_feed_url(entry.get("url"))
    if "interval" not in entry:
        raise ValueError(f"feed {name!r} has no interval")
    interval = parse_duration(entry["interval"])
    if not MIN_INTERVAL_S <= interval <= MAX_INTERVAL_S:
        raise ValueError(f"interval {interval:g}s must be between 1 second and 7 days")
    flags = {}
    for key in ("enabled", "allow_private_network"):
        value = entry.get(key, key == "enabled")
        if not isinstance(value, bool):
            raise ValueError(f"{key} must be true or false, got {value!r}")
        flags[key] = value
    topics = entry.get("topics", [])
    if not isinstance(topics, list) or not all(
        isinstance(t, str) and TOPIC_NAME_RE.match(t) for t in topics
    ):
        raise ValueError("topics must be a list of topic names (lower case, digits, _.-)")
    ports = check_ports(entry["allow_ports"]) if "allow_ports" in entry else ()
    lang = entry.get("lang")
    if lang is not None and (not isinstance(lang, str) or primary_language(lang) is None):
        raise ValueError(f"lang must be a language tag such as zh or en, got {str(lang)[:20]!r}")
    return Feed(
        name=name,
        url=url,
        interval_s=interval,
        enabled=flags["enabled"],
        topics=tuple(dict.fromkeys(topics)),
        lang=primary_language(lang) if lang is not None else None,
        allow_private_network=flags["allow_private_network"],
        allow_ports=ports,
    )


def load_feeds(path: Path) -> list[Feed]:
    """Every feed of the file (enabled or not); a malformed file names file and line."""
    data = load_yaml(path)
    if data is None:
        return []
    if not isinstance(data, dict) or not isinstance(data.get("feeds", []), list):
        raise ConfigFileError(f"{path}: expected a mapping with a 'feeds' list")
    extra = sorted(str(k) for k in data if k not in ("feeds", LINE_KEY))
    if extra:
        raise ConfigFileError(f"{where(path, data)}: unknown key(s) {', '.join(extra)}")
    feeds: list[Feed] = []
    seen: set[str] = set()
    for n, entry in enumerate(data.get("feeds") or [], start=1):
        try:
            feed = build_feed(entry)
        except ValueError as e:
            place = where(path, entry) if isinstance(entry, dict) else f"{path}: feed {n}"
            raise ConfigFileError(f"{place}: {e}") from None
        if feed.name in seen:
            raise ConfigFileError(f"{where(path, entry)}: feed {feed.name!r} is listed twice")
        seen.add(feed.name)
        feeds.append(feed)
    return feeds
