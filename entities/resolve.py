"""Which registry companies a news item names: names, aliases and tickers found in its
title and body. Plain functions; no network, no model.

Precision before recall. A company is found by

- one of its names or aliases, case-sensitively on word boundaries ("Apple", "Apple's",
  not "apple" nor "Applebee's"), the longest name at a place winning ("Apple
  Hospitality" is not Apple) and a phrase that is never a company swallowing the names
  inside it ("Apple pie"). In an all-capitals text ("APPLE TO CUT JOBS") the names are
  matched in capitals;
- its ticker in a safe form only: a cashtag (``$AAPL``, ``$brk.b``), an exchange prefix
  (``NYSE:GS``, ``(NASDAQ: AAPL)``, ``LON:III``) or in parentheses right after a name
  ("Covanta Holding Corporation (CVA)", not "(CEO)"); never a bare word ("IT", "ON",
  "ALL", "A", "F");
- an ambiguous name (a word, place or surname too: "Target", "Gap", "Delta", "Ford")
  only when it is corroborated (the same company's ticker or another of its names in
  the item, or "shares", "stock", "Inc", "Corp", "CEO", "earnings" right after it and
  no capitalised word right before it), or when its capital letter tells: a
  sentence-case text (not Title Case, not capitals), not at the start of a sentence,
  and not beside another capitalised word ("Harrison Ford"). "Shares of Target fell"
  is Target; "Target hits record" and "Oil Prices Target New Highs" are not;
- a generic name, whose capital tells nothing ("City", "Southern", "PRA"), only when
  it is corroborated.

Each company is reported once per item, at its first mention (the title before the
body). The matcher is built once per registry: an index from the first word of every
name to the names that start with it, so a text costs one dictionary look-up per word
and a regular-expression search for tickers only where a ``$``, ``:`` or ``(`` is.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from entities.registry import Entity, Registry, split_symbol, with_apostrophes

Where = Literal["title", "body"]
Kind = Literal["name", "ambiguous", "generic"]

WORD_RE = re.compile(r"\w+")
URL_RE = re.compile(r"https?://\S+|www\.\S+")
CASHTAG_RE = re.compile(r"(?<![\w$])\$([A-Za-z]{1,6}(?:\.[A-Za-z]{1,2})?)(?![\w])")
#: exchange prefix -> the Yahoo suffixes its tickers take ("" a US listing). TSE is
#: Toronto's in the feeds finsent reads (Simply Wall St writes "TSE:X"); Tokyo is TYO.
EXCHANGE_SUFFIXES: Mapping[str, tuple[str, ...]] = {
    **dict.fromkeys(
        (
            "NYSE",
            "NASDAQ",
            "NYSEAMERICAN",
            "NYSEARCA",
            "NYSEMKT",
            "AMEX",
            "OTC",
            "OTCMKTS",
            "OTCQX",
            "OTCQB",
            "BATS",
            "CBOE",
        ),
        ("",),
    ),
    "ETR": ("DE", "F"),
    "XETRA": ("DE", "F"),
    "FRA": ("F", "DE"),
    "FWB": ("DE", "F"),
    "LSE": ("L",),
    "LON": ("L",),
    "EPA": ("PA",),
    "AMS": ("AS",),
    "EBR": ("BR",),
    "BME": ("MC",),
    "BIT": ("MI",),
    "TYO": ("T",),
    "SIX": ("SW",),
    "SWX": ("SW",),
    "VTX": ("SW",),
    "STO": ("ST",),
    "HEL": ("HE",),
    "MCX": ("ME",),
    "TSE": ("TO",),
    "TSX": ("TO",),
    "ASX": ("AX",),
    "HKG": ("HK",),
    "HKEX": ("HK",),
}
EXCHANGE_RE = re.compile(
    r"(?<![\w])(?i:(" + "|".join(sorted(EXCHANGE_SUFFIXES, key=len, reverse=True)) + r"))"
    r"\s?:\s?([A-Z0-9]{1,6}(?:[.\-][A-Z]{1,2})?)(?![\w])"
)
PAREN_TICKER_RE = re.compile(r"(?<=\S)\s\(([A-Z]{2,5}(?:\.[A-Z])?)\)")
#: Capitals in parentheses that are not tickers, whatever the registry says.
_NOT_TICKERS_TEXT = (
    "AI AM ADR ADRS API ATM BTC CAD CDC CEO CFO CHF CNY COO CPI CTO DOJ ECB EPA EPS ESG EST "
    "ET ETF ETFS ETH EU EUR EV EVS FAA FDA FED FTC FY GBP GDP GMT IMF IPO IRS IT JPY LLC LP "
    "NAV NFT NYSE OPEC OTC PLC PM PPI PT QOQ REIT SEC SPAC UK US USA USD WHO YOY"
)
NOT_TICKERS = frozenset(_NOT_TICKERS_TEXT.split())
#: Words right after an ambiguous name that make it a company ("Target shares").
CUE_RE = re.compile(
    r"(?:'s|’s)?\s+(?:[Ss]hares|[Ss]tock|Inc\b|Corp\b|Corporation|CEO|[Ee]arnings)(?!\w)"
)
#: Capitalised words that are not part of a name ("Why", "The", "And" in Title Case).
_FUNCTION_WORDS_TEXT = (
    "A An The And Or Of To In On At By For From With As Is Are Was Were Be Has Have Had Do "
    "Does Did Will Would Can Could Should May Might Why How What When Where Who Which While "
    "After Before Than So If But Not No Its It This That Buy Sell Hold Vs Versus"
)
FUNCTION_WORDS = frozenset(_FUNCTION_WORDS_TEXT.split())
_OPENERS = " \t\"'“‘([«"
_SENTENCE_ENDS = ".!?:;|-–—•\n\r"


@dataclass(frozen=True, slots=True)
class Mention:
    entity_id: str
    #: the text as matched: a name, "$AAPL", "NYSE: GS", "CVA"
    text: str
    where: Where
    #: offset of ``text`` in the title or body: ``title[offset:offset + len(text)]``
    offset: int


@dataclass(frozen=True, slots=True)
class Form:
    """A name as the matcher looks for it; ``entity_id`` None: a phrase that is never
    a company."""

    text: str
    entity_id: str | None
    kind: Kind = "name"


@dataclass(frozen=True, slots=True)
class Matcher:
    #: first word -> the names starting with it, longest first
    by_word: Mapping[str, tuple[Form, ...]]
    #: the same in capitals, for all-capitals texts (plain names only)
    by_word_upper: Mapping[str, tuple[Form, ...]]
    #: (Yahoo suffix, ticker) -> entity id
    tickers: Mapping[tuple[str, str], str]
    #: names that two entities claim: left out
    conflicts: frozenset[str]


@dataclass(frozen=True, slots=True)
class _Hit:
    entity_id: str
    text: str
    where: Where
    offset: int
    kind: Kind = "name"
    cue: bool = False  # "shares", "Inc", ... right after, no capitalised word before
    telling: bool = False  # the capital tells: sentence case, mid-sentence, standalone


# -- building --------------------------------------------------------------------------------


def _forms(entity: Entity) -> Iterable[Form]:
    for name in with_apostrophes(entity.names):
        yield Form(name, entity.id)
    for name in with_apostrophes(entity.ambiguous):
        yield Form(name, entity.id, "ambiguous")
    for name in with_apostrophes(entity.generic):
        yield Form(name, entity.id, "generic")


def _index(forms: Iterable[Form]) -> dict[str, tuple[Form, ...]]:
    by_word: dict[str, list[Form]] = defaultdict(list)
    for form in forms:
        first = WORD_RE.match(form.text)
        if first is not None:
            by_word[first.group()].append(form)
    return {w: tuple(sorted(fs, key=lambda f: -len(f.text))) for w, fs in by_word.items()}


def _unique(forms: Iterable[Form], never: frozenset[str]) -> tuple[list[Form], set[str]]:
    """The forms whose text one entity alone claims, and the blockers; the others."""
    claims: dict[str, list[Form]] = defaultdict(list)
    for form in forms:
        claims[form.text].append(form)
    kept = [Form(text, None) for text in never]
    conflicts = set()
    for text, fs in claims.items():
        if text in never:
            continue
        if len({f.entity_id for f in fs}) > 1:
            conflicts.add(text)
            continue
        kept.append(fs[0])
    return kept, conflicts


def _key(symbol: str) -> tuple[str, str]:
    base, suffix = split_symbol(symbol)
    return suffix, base


def _tickers(registry: Registry) -> dict[tuple[str, str], str]:
    """Each (suffix, ticker) to its entity: an entity's own id first; a listing two
    entities share is left out."""
    primary = {_key(e.id): e.id for e in registry}
    other: dict[tuple[str, str], set[str]] = defaultdict(set)
    for e in registry:
        for symbol in e.symbols:
            other[_key(symbol)].add(e.id)
    out = {key: next(iter(ids)) for key, ids in other.items() if len(ids) == 1}
    out.update(primary)
    return out


@lru_cache(maxsize=16)
def matcher(registry: Registry) -> Matcher:
    """The registry's matcher, built once (registries compare by identity)."""
    forms, conflicts = _unique(
        (f for e in registry for f in _forms(e)), frozenset(with_apostrophes(registry.not_names))
    )
    upper, upper_conflicts = _unique(
        (Form(f.text.upper(), f.entity_id) for f in forms if f.kind == "name" and f.entity_id),
        frozenset(f.text.upper() for f in forms if f.entity_id is None),
    )
    return Matcher(
        by_word=_index(forms),
        by_word_upper=_index(upper),
        tickers=_tickers(registry),
        conflicts=frozenset(conflicts | upper_conflicts),
    )


# -- matching ---------------------------------------------------------------------------------


def _is_word(char: str) -> bool:
    return char.isalnum() or char == "_"


def _ticker(m: Matcher, symbol: str, suffixes: tuple[str, ...] = ("",)) -> str | None:
    symbol = symbol.upper().replace("-", ".")
    base, suffix = split_symbol(symbol)
    if suffix:
        return m.tickers.get((suffix, base))
    for s in suffixes:
        found = m.tickers.get((s, symbol))
        if found is not None:
            return found
    head, dot, _ = symbol.partition(".")  # $WPG.PH, a preferred share: the company
    return m.tickers.get(("", head)) if dot and suffixes == ("",) else None


def _ticker_hits(m: Matcher, text: str, where: Where) -> list[_Hit]:
    hits = []
    if "$" in text:
        for c in CASHTAG_RE.finditer(text):
            found = _ticker(m, c.group(1))
            if found is not None:
                hits.append(_Hit(found, c.group(), where, c.start()))
    if ":" in text:
        for x in EXCHANGE_RE.finditer(text):
            found = _ticker(m, x.group(2), EXCHANGE_SUFFIXES[x.group(1).upper()])
            if found is not None:
                hits.append(_Hit(found, x.group(), where, x.start()))
    if "(" in text:
        for p in PAREN_TICKER_RE.finditer(text):
            before = text[: p.start()].split()
            if p.group(1) in NOT_TICKERS or not before or not before[-1][:1].isupper():
                continue
            found = _ticker(m, p.group(1))
            if found is not None:
                hits.append(_Hit(found, p.group(1), where, p.start(1)))
    return hits


def _title_case(text: str) -> bool:
    """Most words of four letters or more (after the first) start with a capital."""
    words = [w for w in WORD_RE.findall(text)[1:] if len(w) >= 4 and w[0].isalpha()]
    return bool(words) and sum(w[0].isupper() for w in words) * 10 >= len(words) * 6


def _sentence_start(text: str, start: int) -> bool:
    before = text[:start].rstrip(_OPENERS)
    return not before or before[-1] in _SENTENCE_ENDS


def _capital_before(text: str, start: int) -> bool:
    """A capitalised word joined by spaces alone before ``start``: a longer name's part
    ("Harrison Ford"), unless a function word ("Why Target Stock Soared")."""
    before = text[:start]
    if not before.endswith(" "):
        return False
    words = before.split()
    return (
        bool(words)
        and words[-1][:1].isupper()
        and words[-1][-1:].isalnum()
        and words[-1] not in FUNCTION_WORDS
    )


def _capital_after(text: str, end: int) -> bool:
    after = text[end:]
    if not after.startswith(" "):
        return False
    words = after.split(None, 1)
    return bool(words) and words[0][:1].isupper() and words[0] not in FUNCTION_WORDS


def _name_hits(m: Matcher, text: str, where: Where) -> list[_Hit]:
    if "://" in text or "www." in text:
        text = URL_RE.sub(lambda u: " " * len(u.group()), text)  # same offsets
    shouting = text.isupper()
    index = m.by_word_upper if shouting else m.by_word
    hits: list[_Hit] = []
    title_case: bool | None = None
    taken = 0
    for word in WORD_RE.finditer(text):
        start = word.start()
        forms = index.get(word.group())
        if forms is None or start < taken or (start and text[start - 1] == "$"):
            continue
        for form in forms:
            end = start + len(form.text)
            if not text.startswith(form.text, start):
                continue
            if end < len(text) and _is_word(text[end]) and _is_word(text[end - 1]):
                continue
            taken = end
            if form.entity_id is None:
                break
            if form.kind == "name":
                hits.append(_Hit(form.entity_id, form.text, where, start))
                break
            before = _capital_before(text, start)
            cue = not before and CUE_RE.match(text, end) is not None
            telling = False
            if form.kind == "ambiguous" and not before and not _capital_after(text, end):
                if title_case is None:
                    title_case = _title_case(text)
                telling = not title_case and not _sentence_start(text, start)
            hits.append(_Hit(form.entity_id, form.text, where, start, form.kind, cue, telling))
            break
    return hits


def resolve(registry: Registry, title: str, body: str | None = None) -> list[Mention]:
    """The registry companies that ``title`` and ``body`` name, each once, in order of
    first mention (title first)."""
    m = matcher(registry)
    hits: list[_Hit] = []
    parts: list[tuple[Where, str]] = [("title", title)]
    if body:
        parts.append(("body", body))
    for where, text in parts:
        found = _ticker_hits(m, text, where) + _name_hits(m, text, where)
        hits += sorted(found, key=lambda h: h.offset)
    sure = {h.entity_id for h in hits if h.kind == "name"}
    mentions: dict[str, Mention] = {}
    for h in hits:
        if h.entity_id in mentions:
            continue
        if h.kind != "name" and not (h.cue or h.telling or h.entity_id in sure):
            continue
        mentions[h.entity_id] = Mention(h.entity_id, h.text, h.where, h.offset)
    return list(mentions.values())
