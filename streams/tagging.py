"""Topic tagging: which watched topics and tickers a headline is about. Plain functions.

A watchlist names topics by
- ``keywords``: case-insensitive phrases ("interest rate", "layoffs", "降息"),
- ``aliases``: case-sensitive names ("Fed", "Apple") where case tells a name from a word,
- ``patterns``: regular expressions (case-insensitive),
- ``tickers``: codes (``$AAPL``, ``600519.SH``, ``0700.HK``) that tag the topic,
matched on word boundaries (so "oil" does not match "turmoil"). Chinese, Japanese and
Korean are written without spaces, so a phrase edge that is a CJK character (Han, kana,
Hangul, full-width forms) needs no boundary, and a CJK character next to a Latin word
is a boundary for it ("A股" matches in "沪深A股", "oil" still not in "turmoil"). Full-width
letters, digits and punctuation (U+FF01 to U+FF5E) read as their ASCII forms. Every
item also gets the market-wide topic. Every ticker in the text is reported: cashtags
(``$AAPL`` as ``AAPL``), Shanghai/Shenzhen/Beijing and Hong Kong codes in one form
(``600519.SH``, ``000001.SZ``, ``0700.HK``), a bare six-digit A-share code only in
Chinese text where it cannot be an amount, a price or part of a longer number.

Tagging runs on every item in the classify agent, so it does not run every topic's
regular expressions on every text: a phrase on word boundaries can only match a text
that has the phrase's first word as a whole word, and a phrase with CJK characters only
one that has its first CJK character pair (or its only CJK character), so the watchlist
indexes topics by those keys and runs the regular expressions of the topics whose keys
the text has (a topic's patterns are run on every text). The result is exactly that of
running them all (tests/unit/test_tagging.py checks it on real headlines).
"""

from __future__ import annotations

import operator
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import ConfigFileError
from core.titles import CJK
from core.yamlfile import LINE_KEY, load_yaml, where

DEFAULT_WATCHLIST = Path(__file__).resolve().parent / "data" / "watchlist.yaml"
TOPIC_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,99}$")
_HAN_RE = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")
_CJK_RUN_RE = re.compile(f"[{CJK}]+")
#: The edges of a word: in any text, not next to a word character that is not CJK (a
#: CJK character next to a Latin word is a boundary for it: Chinese has no spaces); in
#: an ASCII text that is ``\w``, the regular expression engine's fastest check.
_LEFT, _RIGHT = f"(?<!(?-i:[^\\W{CJK}]))", f"(?!(?-i:[^\\W{CJK}]))"
_ASCII_LEFT, _ASCII_RIGHT = r"(?<!\w)", r"(?!\w)"
WORD_RE = re.compile(r"\w+")
#: A run of word characters without CJK ones (what ``WORD_RE`` finds in a text without).
LATIN_WORD_RE = re.compile(f"[^\\W{CJK}]+")
#: ``$AAPL``, ``$BRK.B``: not after a word character that is not CJK, nor after a ``$``.
CASHTAG_RE = re.compile(
    f"\\$(?<!(?-i:[^\\W{CJK}])\\$)(?<!\\$\\$)([A-Za-z]{{1,6}}(?:\\.[A-Za-z]{{1,2}})?){_RIGHT}"
)
_ASCII_CASHTAG_RE = re.compile(r"\$(?<![\w$]\$)([A-Za-z]{1,6}(?:\.[A-Za-z]{1,2})?)(?!\w)")
_CODES = (
    r"(?:(?P<code>\d{6})\.(?P<exchange>(?i:s[hsz]|bj))"
    r"|(?P<prefix>(?i:sh|sz|bj))(?P<prefixed>\d{6})|(?P<hk>\d{4,5})\.(?i:hk))"
)
#: Shanghai/Shenzhen/Beijing codes with their exchange (600519.SH, 600519.SS as Yahoo
#: writes Shanghai, SH600519) and Hong Kong codes (00700.HK, 0700.HK), in any text.
EXCHANGE_CODE_RE = re.compile(f"{_LEFT}(?<![.$]){_CODES}{_RIGHT}")
_ASCII_EXCHANGE_CODE_RE = re.compile(f"(?<![\\w.$]){_CODES}(?!\\w)")
#: Every code above has four digits in a row: texts without them skip the search.
_FOUR_DIGITS = re.compile(r"\d\d\d\d")
#: A bare A-share code (Shanghai 60/68, Shenzhen 00/30), read only in Chinese text: not
#: part of a longer number, a decimal, a range or a date, not after a currency sign or an
#: ordinal or amount word ("第", "约"), not before a unit ("600519元", "600000股", "%").
_UNITS = "[元万亿千百手年月日号点人位名次个份张只条笔家户辆台套件项倍吨米斤克度余多%‰]"
_AMOUNT = f"{_UNITS}|股(?![价份票东权])|美元|港元|港币|欧元|日元|英镑"
BARE_CODE_RE = re.compile(
    f"{_LEFT}(?<![-.,:/+#@$¥£€~第约逾近共计达超])((?:60|68|00|30)\\d{{4}}){_RIGHT}"
    f"(?![.,:/~-]\\d)(?!\\.[A-Za-z])(?!\\s*(?:{_AMOUNT}))"
)
_EXCHANGES = {"SH": "SH", "SS": "SH", "SZ": "SZ", "BJ": "BJ"}
_HOME_EXCHANGE = {"60": "SH", "68": "SH", "00": "SZ", "30": "SZ"}
#: Full-width ASCII, the ideographic space and the other half- and full-width forms
#: that NFKC turns into one other character.
_WIDTH = {
    c: folded
    for c in (0x3000, *range(0xFF01, 0xFFEF))
    if len(folded := unicodedata.normalize("NFKC", chr(c))) == 1 and folded != chr(c)
}
#: Non-ASCII letters that ``re.IGNORECASE`` matches to an ASCII letter but ``str.lower``
#: does not turn into it (the Kelvin sign lowers to "k" by itself).
_FOLD = str.maketrans({"\u0130": "i", "\u0131": "i", "\u017f": "s"})


@dataclass(frozen=True, slots=True)
class Phrases:
    """A topic's keywords (or its aliases) as two regular expressions: ``any`` for any
    text, on the boundaries of Latin edges only; ``ascii`` for an ASCII text, which no
    phrase with a CJK character can match and where a word boundary is ``\\w``: the
    regular expression as it was before CJK, as fast (tagging English costs no more)."""

    any: re.Pattern[str]
    ascii: re.Pattern[str] | None

    def search(self, text: str) -> bool:
        pattern = self.ascii if text.isascii() else self.any
        return pattern is not None and pattern.search(text) is not None


@dataclass(frozen=True, slots=True)
class Topic:
    name: str
    insensitive: Phrases | None
    sensitive: Phrases | None
    tickers: frozenset[str]
    patterns: re.Pattern[str] | None = None
    #: The key of each keyword and alias (``anchor``): a text must have one of them for
    #: a phrase to match. None: the phrases are tried on every text (one of them has
    #: no CJK character and does not start with a plain-ASCII word).
    anchors: frozenset[str] | None = None

    def by_phrase(self, text: str, tickers: frozenset[str]) -> bool:
        if self.tickers & tickers:
            return True
        if self.sensitive is not None and self.sensitive.search(text):
            return True
        return self.insensitive is not None and self.insensitive.search(text)

    def by_pattern(self, text: str) -> bool:
        return self.patterns is not None and self.patterns.search(text) is not None

    def matches(self, text: str, tickers: frozenset[str]) -> bool:
        """Every rule of the topic on ``text`` (what ``tag`` finds through the index)."""
        return self.by_phrase(text, tickers) or self.by_pattern(text)


@dataclass(frozen=True, slots=True)
class Watchlist:
    market_topic: str
    topics: tuple[Topic, ...]
    #: anchor -> positions of the topics anchored by it; ticker -> topics with that ticker
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
        for key in text_keys(text):
            candidates.update(self._by_word.get(key, ()))
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


def fold_width(text: str) -> str:
    """Full-width letters, digits and punctuation (U+FF01 to U+FF5E) and the ideographic
    space as their ASCII forms, which the phrases, tickers and patterns are written in;
    nothing else changes (unlike NFKC, which would also rewrite "½", "™" or ligatures)."""
    return text if text.isascii() else text.translate(_WIDTH)


def has_han(text: str) -> bool:
    """Whether ``text`` has a Chinese character (Han): the context bare codes need."""
    return not text.isascii() and _HAN_RE.search(text) is not None


def text_keys(text: str) -> set[str]:
    """The keys ``anchor`` may give that ``text`` has: its lower-cased words and, where
    it has CJK characters, each CJK character and pair of adjacent ones."""
    if text.isascii():
        return set(WORD_RE.findall(text.lower()))
    keys = set(LATIN_WORD_RE.findall(text.translate(_FOLD).lower()))
    for run in _CJK_RUN_RE.findall(text):
        keys.update(run)
        keys.update(map(operator.add, run, run[1:]))
    return keys


def _exchange_code(m: re.Match[str]) -> str:
    if m["code"]:
        return f"{m['code']}.{_EXCHANGES[m['exchange'].upper()]}"
    if m["prefixed"]:
        return f"{m['prefixed']}.{_EXCHANGES[m['prefix'].upper()]}"
    return f"{int(m['hk']):04d}.HK"


def _tickers(text: str) -> frozenset[str]:
    """``find_tickers`` on a text already through ``fold_width``."""
    if text.isascii():
        cashtags, codes, bare = _ASCII_CASHTAG_RE, _ASCII_EXCHANGE_CODE_RE, False
    else:
        cashtags, codes, bare = CASHTAG_RE, EXCHANGE_CODE_RE, has_han(text)
    found = {m.group(1).upper() for m in cashtags.finditer(text)} if "$" in text else set()
    if _FOUR_DIGITS.search(text):
        found.update(c for c in map(_exchange_code, codes.finditer(text)) if c != "0000.HK")
        if bare:
            found.update(f"{c}.{_HOME_EXCHANGE[c[:2]]}" for c in BARE_CODE_RE.findall(text))
    return frozenset(found)


def find_tickers(text: str) -> frozenset[str]:
    """Every ticker in ``text``: cashtags upper-cased without the ``$`` ("AAPL"), A-share
    and Hong Kong codes as "600519.SH", "000001.SZ", "0700.HK" (``normalise_ticker``)."""
    return _tickers(fold_width(text))


def normalise_ticker(ticker: str) -> str:
    """The form ``find_tickers`` reports for a ticker as a watchlist writes it: "$aapl" is
    "AAPL", "SH600519" and "600519.SS" are "600519.SH", "00700.HK" is "0700.HK", a bare
    A-share code goes to its home exchange ("000001" is "000001.SZ")."""
    text = fold_width(ticker).strip()
    m = EXCHANGE_CODE_RE.fullmatch(text)
    if m is not None:
        return _exchange_code(m)
    if re.fullmatch(r"\d{1,5}\.[Hh][Kk]", text):
        return f"{int(text[:-3]):04d}.HK"
    if BARE_CODE_RE.fullmatch(text):
        return f"{text}.{_HOME_EXCHANGE[text[:2]]}"
    return text.lstrip("$").upper()


def tag(watchlist: Watchlist, title: str, body: str | None = None) -> Tags:
    """The topics (market-wide first, then watchlist order) and tickers of one item."""
    text = fold_width(f"{title}\n{body}" if body else title)
    tickers = _tickers(text)
    topics = [watchlist.market_topic]
    topics += [t.name for t in watchlist.matching(text, tickers)]
    return Tags(topics=tuple(topics), tickers=tuple(sorted(tickers)))


def is_cjk(char: str) -> bool:
    return _CJK_RUN_RE.fullmatch(char) is not None


def _phrase(phrase: str) -> str:
    """A literal phrase, any run of spaces matching any whitespace, on word boundaries
    at its Latin edges only: Chinese has no spaces, so a CJK edge needs none.

    The left boundary is checked after the first character (the character before that
    one is not a Latin word character), not before it: the engine then drops the
    phrase at a position on a literal, which is quicker than a look-behind.
    """
    words = r"\s+".join(re.escape(w) for w in phrase.split())
    right = "" if is_cjk(phrase[-1]) else _RIGHT
    if is_cjk(phrase[0]):
        return words + right
    first = re.escape(phrase[0])
    return f"{first}(?<!(?-i:[^\\W{CJK}]){first}){words[len(first) :]}{right}"


def _ascii_phrase(phrase: str) -> str:
    """A literal phrase on ``\\w`` boundaries: ``_phrase`` on an ASCII text (the form
    tagging had before CJK: on English text as fast as it was)."""
    words = [re.escape(w) for w in phrase.split()]
    return _ASCII_LEFT + r"\s+".join(words) + _ASCII_RIGHT


def _phrases(phrases: list[str], flags: int, context: str) -> Phrases | None:
    if not phrases:
        return None
    whole = _compile([_phrase(p) for p in phrases], flags, context)
    plain = [_ascii_phrase(p) for p in phrases if not _CJK_RUN_RE.search(p)]
    assert whole is not None
    return Phrases(any=whole, ascii=_compile(plain, flags, context))


def anchor(phrase: str) -> str | None:
    """The key a text must have (``text_keys``) for ``phrase`` to match it: the first
    pair of adjacent CJK characters of a phrase that has CJK characters (its only one if
    it has one), else its first word, lower-cased; None when that is not plain ASCII
    (the topic is then checked on every text).

    A match holds the phrase's CJK characters as they are, its CJK runs within the
    text's. A phrase matches on Latin word boundaries, so each of its runs of non-CJK
    word characters is a whole such word of the text, equal to it case-insensitively;
    for ASCII, equal after ``lower()`` (and after ``_FOLD`` for the text's side).
    """
    runs: list[str] = _CJK_RUN_RE.findall(phrase)
    if runs:
        return next((run[:2] for run in runs if len(run) > 1), runs[0])
    first = LATIN_WORD_RE.search(phrase)
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
    keywords = [fold_width(k) for k in _strings(entry, "keywords", context)]
    aliases = [fold_width(a) for a in _strings(entry, "aliases", context)]
    patterns = _strings(entry, "patterns", context)
    tickers = [normalise_ticker(t) for t in _strings(entry, "tickers", context)]
    for p in patterns:
        _compile([p], re.IGNORECASE, f"{context} pattern {p!r}")
    if not (keywords or aliases or patterns or tickers):
        raise ConfigFileError(f"{context}: give keywords, aliases, patterns or tickers")
    anchors = [anchor(phrase) for phrase in keywords + aliases]
    return Topic(
        name=name,
        insensitive=_phrases(keywords, re.IGNORECASE, context),
        sensitive=_phrases(aliases, 0, context),
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
