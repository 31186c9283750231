"""Topic tagging: which watched topics and tickers a headline is about. Plain functions.

A watchlist names topics by
- ``keywords``: case-insensitive phrases ("interest rate", "layoffs"),
- ``aliases``: case-sensitive names ("Fed", "Apple") where case tells a name from a word,
- ``patterns``: regular expressions (case-insensitive),
- ``tickers``: cashtags ($AAPL) that tag the topic,
matched on word boundaries (so "oil" does not match "turmoil"). Every item also gets
the market-wide topic. Every cashtag in the text is reported as a ticker.

Tagging runs on every item in the classify agent, so it does not run every topic's
regular expressions on every text: a phrase on word boundaries can only match a text
that has the phrase's first word as a whole word, so the watchlist indexes topics by
those words and runs the regular expressions of the topics whose words the text has
(a topic's patterns are run on every text). The result is exactly
that of running them all (tests/unit/test_tagging.py checks it on real headlines).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import ConfigFileError
from core.yamlfile import LINE_KEY, load_yaml, where

DEFAULT_WATCHLIST = Path(__file__).resolve().parent / "data" / "watchlist.yaml"
TOPIC_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,99}$")
CASHTAG_RE = re.compile(r"(?<![\w$])\$([A-Za-z]{1,6}(?:\.[A-Za-z]{1,2})?)(?![\w])")
_LEFT, _RIGHT = r"(?<![\w])", r"(?![\w])"
WORD_RE = re.compile(r"\w+")
#: Non-ASCII letters that ``re.IGNORECASE`` matches to an ASCII letter but ``str.lower``
#: does not turn into it (the Kelvin sign lowers to "k" by itself).
_FOLD = str.maketrans({"\u0130": "i", "\u0131": "i", "\u017f": "s"})


@dataclass(frozen=True, slots=True)
class Topic:
    name: str
    insensitive: re.Pattern[str] | None
    sensitive: re.Pattern[str] | None
    tickers: frozenset[str]
    patterns: re.Pattern[str] | None = None
    #: The lower-cased first word of each keyword and alias: a text must have one of
    #: them as a word for a phrase to match. None: the phrases are tried on every text
    #: (one of them does not start with a plain-ASCII word).
    anchors: frozenset[str] | None = None

    def by_phrase(self, text: str, tickers: frozenset[str]) -> bool:
        if self.tickers & tickers:
            return True
        if self.sensitive is not None and self.sensitive.search(text):
            return True
        return self.insensitive is not None and self.insensitive.search(text) is not None

    def by_pattern(self, text: str) -> bool:
        return self.patterns is not None and self.patterns.search(text) is not None

    def matches(self, text: str, tickers: frozenset[str]) -> bool:
        """Every rule of the topic on ``text`` (what ``tag`` finds through the index)."""
        return self.by_phrase(text, tickers) or self.by_pattern(text)


@dataclass(frozen=True, slots=True)
class Watchlist:
    market_topic: str
    topics: tuple[Topic, ...]
    #: word -> positions of the topics anchored by it; cashtag -> topics with that ticker
    _by_word: dict[str, tuple[int, ...]] = field(init=False, repr=False, compare=False)
    _by_ticker: dict[str, tuple[int, ...]] = field(init=False, repr=False, compare=False)
    #: positions of the topics whose phrases are tried on every text; of those with patterns
    _always: frozenset[int] = field(init=False, repr=False, compare=False)
    _patterned: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_word: dict[str, list[int]] = {}
        by_ticker: dict[str, list[int]] = {}
        always: set[int] = set()
        for i, topic in enumerate(self.topics):
            if topic.anchors is None:
                always.add(i)
            else:
                for word in topic.anchors:
                    by_word.setdefault(word, []).append(i)
            for ticker in topic.tickers:
                by_ticker.setdefault(ticker, []).append(i)
        object.__setattr__(self, "_by_word", {k: tuple(v) for k, v in by_word.items()})
        object.__setattr__(self, "_by_ticker", {k: tuple(v) for k, v in by_ticker.items()})
        object.__setattr__(self, "_always", frozenset(always))
        patterned = tuple(i for i, t in enumerate(self.topics) if t.patterns is not None)
        object.__setattr__(self, "_patterned", patterned)

    def matching(self, text: str, tickers: frozenset[str]) -> list[Topic]:
        """The topics that match ``text``, in watchlist order: the phrases of the topics
        the index names, the patterns of every topic that has them."""
        candidates = set(self._always)
        for word in set(WORD_RE.findall(text.translate(_FOLD).lower())):
            candidates.update(self._by_word.get(word, ()))
        for ticker in tickers:
            candidates.update(self._by_ticker.get(ticker, ()))
        hits = {i for i in candidates if self.topics[i].by_phrase(text, tickers)}
        hits.update(i for i in self._patterned if i not in hits and self.topics[i].by_pattern(text))
        return [self.topics[i] for i in sorted(hits)]

    @property
    def names(self) -> list[str]:
        return [self.market_topic, *(t.name for t in self.topics)]


@dataclass(frozen=True, slots=True)
class Tags:
    topics: tuple[str, ...]
    tickers: tuple[str, ...]


def find_tickers(text: str) -> frozenset[str]:
    """Every cashtag in ``text``, upper-cased, without the ``$``."""
    return frozenset(m.group(1).upper() for m in CASHTAG_RE.finditer(text))


def tag(watchlist: Watchlist, title: str, body: str | None = None) -> Tags:
    """The topics (market-wide first, then watchlist order) and tickers of one item."""
    text = f"{title}\n{body}" if body else title
    tickers = find_tickers(text)
    topics = [watchlist.market_topic]
    topics += [t.name for t in watchlist.matching(text, tickers)]
    return Tags(topics=tuple(topics), tickers=tuple(sorted(tickers)))


def _phrase(phrase: str) -> str:
    """A literal phrase on word boundaries, any run of spaces matching any whitespace."""
    words = [re.escape(w) for w in phrase.split()]
    return _LEFT + r"\s+".join(words) + _RIGHT


def anchor(phrase: str) -> str | None:
    """The word a text must have for ``phrase`` to match it; None when there is no such
    plain-ASCII word (the topic is then checked on every text).

    A phrase matches on word boundaries, so each of its runs of word characters is a
    whole word of the text, equal to it case-insensitively; for ASCII, equal after
    ``lower()`` (and after ``_FOLD`` for the text's side).
    """
    first = WORD_RE.search(phrase)
    if first is None or not first.group().isascii():
        return None
    return first.group().lower()


def _compile(parts: list[str], flags: int, context: str) -> re.Pattern[str] | None:
    if not parts:
        return None
    try:
        return re.compile("|".join(f"(?:{p})" for p in parts), flags)
    except re.error as e:
        raise ConfigFileError(f"{context}: invalid regular expression: {e}") from None


def _strings(entry: dict[str, Any], key: str, context: str) -> list[str]:
    value = entry.get(key, [])
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigFileError(f"{context}: {key!r} must be a list of non-empty strings")
    return [v.strip() for v in value]


def build_topic(entry: Any, path: Path) -> Topic:
    context = where(path, entry)
    if not isinstance(entry, dict):
        raise ConfigFileError(f"{context}: each topic must be a mapping with a name")
    unknown = set(entry) - {"name", "keywords", "aliases", "patterns", "tickers", LINE_KEY}
    if unknown:
        raise ConfigFileError(f"{context}: unknown key(s) {sorted(unknown)}")
    name = entry.get("name")
    if not isinstance(name, str) or not TOPIC_NAME_RE.match(name):
        raise ConfigFileError(
            f"{context}: topic name {name!r} must be lower-case letters, digits, '_', '.', '-'"
        )
    context = f"{context} (topic {name!r})"
    keywords = _strings(entry, "keywords", context)
    aliases = _strings(entry, "aliases", context)
    patterns = _strings(entry, "patterns", context)
    tickers = [t.lstrip("$").upper() for t in _strings(entry, "tickers", context)]
    for p in patterns:
        _compile([p], re.IGNORECASE, f"{context} pattern {p!r}")
    if not (keywords or aliases or patterns or tickers):
        raise ConfigFileError(f"{context}: give keywords, aliases, patterns or tickers")
    anchors = [anchor(phrase) for phrase in keywords + aliases]
    return Topic(
        name=name,
        insensitive=_compile([_phrase(k) for k in keywords], re.IGNORECASE, context),
        sensitive=_compile([_phrase(a) for a in aliases], 0, context),
        tickers=frozenset(tickers),
        patterns=_compile(patterns, re.IGNORECASE, context),
        anchors=None if None in anchors else frozenset(a for a in anchors if a),
    )


def load_watchlist(path: Path = DEFAULT_WATCHLIST) -> Watchlist:
    """Read and compile a watchlist file; a malformed one names the file and line."""
    data = load_yaml(path)
    if not isinstance(data, dict) or not isinstance(data.get("topics"), list):
        raise ConfigFileError(f"{path}: expected a mapping with a 'topics' list")
    market = data.get("market_topic", "market")
    if not isinstance(market, str) or not TOPIC_NAME_RE.match(market):
        raise ConfigFileError(f"{where(path, data)}: market_topic {market!r} is not a topic name")
    topics = [build_topic(entry, path) for entry in data["topics"]]
    seen: set[str] = {market}
    for topic, entry in zip(topics, data["topics"], strict=True):
        if topic.name in seen:
            raise ConfigFileError(f"{where(path, entry)}: topic {topic.name!r} is listed twice")
        seen.add(topic.name)
    return Watchlist(market_topic=market, topics=tuple(topics))
