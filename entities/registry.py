"""The company registry: which companies a news item can name, under which names and
tickers. Plain data, built once at start-up; ``entities.resolve`` finds them in text.

An ``Entity`` is a listed company: a stable ``id`` (its primary symbol in Yahoo's form:
``AAPL``, ``SAP.DE``, ``7203.T``), a display name, its ticker and exchange, the names
headlines write (``aliases``: "Apple", "JPMorgan"), the names that are also ordinary
words (``ambiguous``: "Target", "Gap", "Corning"), which the resolver takes only where
a capital mid-sentence tells or with corroboration, and the names whose capital tells
nothing (``generic``: "City", "Southern", "PRA"), which it takes only with
corroboration. ``symbols`` are its other listings (an ADR, a London or Frankfurt line)
in the same form, for cashtags and exchange-prefixed tickers.

The registry is built from three sources, a later one winning:

1. the index constituents that ``pytickersymbols`` carries offline (S&P 500/600, Nasdaq
   100, Dow, DAX family, FTSE 100, CAC, AEX, IBEX, Nikkei 225, ...). Their names are
   reduced to what headlines use ("Apple Inc." -> "Apple", "KSB SE & Co. KGaA" ->
   "KSB"); a reduced name listed as ambiguous or generic (a word like "Target") becomes
   one, a reduced name shorter than three characters or listed as a ``not_names``
   phrase is not used, and a reduced name two companies share is dropped from both
   (precision before recall);
2. ``entities/data/companies.yaml``: curated aliases ("Google", "BofA", "Exxon"), the
   ambiguous and generic names, the phrases that are never a company ("Apple pie"),
   fixes to the index data, and well-known companies the indices lack;
3. the user's files of the same format (``load_registry(path, ...)``).

A name a later source gives to an entity moves to it from whichever entity had it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

from core.errors import ConfigFileError
from core.yamlfile import LINE_KEY, load_yaml, where

DEFAULT_COMPANIES = Path(__file__).resolve().parent / "data" / "companies.yaml"
ID_RE = re.compile(r"^[A-Z0-9][A-Z0-9.\-]{0,19}$")
#: Yahoo's exchange suffix -> the exchange's short name (no suffix: a US listing).
SUFFIX_EXCHANGE = {
    "DE": "XETRA",
    "F": "FRA",
    "L": "LSE",
    "PA": "EPA",
    "AS": "AMS",
    "BR": "EBR",
    "MC": "BME",
    "MI": "BIT",
    "T": "TYO",
    "SW": "SIX",
    "ST": "STO",
    "HE": "HEL",
    "ME": "MCX",
    "TO": "TSX",
    "AX": "ASX",
    "HK": "HKEX",
}
_US_EXCHANGES = {"NYSE": "NYSE", "NASDAQ": "NASDAQ", "AMEX": "NYSE American", "CBOE": "Cboe"}
#: Trailing legal forms and share classes that headlines leave out.
_LEGAL = re.compile(
    r"(?:,?\s+(?:&\s*Co\.?|Inc\.?|Incorporated|Corp\.?|Corporation|Company|Companies|Co\.?"
    r"|AG|SE|SA|S\.A\.?|N\.V\.?|NV|plc|PLC|Plc|Ltd\.?|Limited|LLC|L\.P\.|LP|Holdings?|Group"
    r"|KGaA|ASA|AB|Oyj|Oy|S\.p\.A\.?|SpA|A/S|GmbH|Class\s+[A-C]))+\s*[,.]?$"
)
_PARENTHESIS = re.compile(r"\s*\([^)]*\)")
_DANGLING = re.compile(r"\s+(?:&|and)$")  # "Eli Lilly and Company" -> "Eli Lilly"
_GLUED_CLASS = re.compile(r"^(\w{3,}[a-zäöå])[ABC]$")  # "KalmarB" -> "Kalmar"
#: The places the index data gives as a US company's "country" ("Houston, Texas").
_US_STATES_TEXT = (
    "Alabama,Alaska,Arizona,Arkansas,California,Colorado,Connecticut,Delaware,Florida,"
    "Georgia,Hawaii,Idaho,Illinois,Indiana,Iowa,Kansas,Kentucky,Louisiana,Maine,Maryland,"
    "Massachusetts,Michigan,Minnesota,Mississippi,Missouri,Montana,Nebraska,Nevada,"
    "New Hampshire,New Jersey,New Mexico,New York,North Carolina,North Dakota,Ohio,"
    "Oklahoma,Oregon,Pennsylvania,Rhode Island,South Carolina,South Dakota,Tennessee,"
    "Texas,Utah,Vermont,Virginia,Washington,West Virginia,Wisconsin,Wyoming,D.C.,"
    "Puerto Rico"
)
_US_STATES = frozenset(_US_STATES_TEXT.split(","))
_ENTRY_KEYS = {
    "id",
    "name",
    "ticker",
    "exchange",
    "country",
    "aliases",
    "ambiguous",
    "generic",
    "symbols",
    "drop",
    LINE_KEY,
}
_FILE_KEYS = {"companies", "ambiguous_names", "generic_names", "not_names", LINE_KEY}


@dataclass(frozen=True, slots=True)
class Entity:
    id: str
    name: str
    ticker: str
    exchange: str
    aliases: tuple[str, ...] = ()
    country: str | None = None
    #: names that are also words: resolved where a capital tells ("Shares of Target
    #: fell") or with corroboration
    ambiguous: tuple[str, ...] = ()
    #: names whose capital tells nothing ("City", "Southern", "PRA"): resolved only
    #: with corroboration
    generic: tuple[str, ...] = ()
    #: other listings in Yahoo's form ("BUD", "ADS.F", "III.L")
    symbols: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        """The display name and the aliases, less the ambiguous and generic names: the
        names resolved wherever they stand."""
        weak = {*self.ambiguous, *self.generic}
        return tuple(n for n in dict.fromkeys((self.name, *self.aliases)) if n not in weak)

    @property
    def all_names(self) -> frozenset[str]:
        return frozenset((self.name, *self.aliases, *self.ambiguous, *self.generic))


@dataclass(frozen=True, slots=True, eq=False)
class Registry:
    """The entities by id, and the phrases that are never a company ("Apple pie").

    Compared by identity: the resolver keeps one compiled matcher per registry."""

    entities: tuple[Entity, ...]
    not_names: frozenset[str] = frozenset()
    _by_id: dict[str, Entity] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        by_id = {e.id: e for e in self.entities}
        if len(by_id) != len(self.entities):
            twice = [i for i, n in Counter(e.id for e in self.entities).items() if n > 1]
            raise ValueError(f"entity ids listed twice: {sorted(twice)}")
        object.__setattr__(self, "_by_id", by_id)

    def get(self, entity_id: str) -> Entity | None:
        return self._by_id.get(entity_id)

    def __getitem__(self, entity_id: str) -> Entity:
        return self._by_id[entity_id]

    def __contains__(self, entity_id: object) -> bool:
        return entity_id in self._by_id

    def __iter__(self) -> Iterator[Entity]:
        return iter(self.entities)

    def __len__(self) -> int:
        return len(self.entities)


@dataclass(frozen=True, slots=True)
class CompanyEntry:
    """One entry of a companies file: a new entity, or changes to an existing one."""

    id: str
    where: str
    name: str | None = None
    ticker: str | None = None
    exchange: str | None = None
    country: str | None = None
    aliases: tuple[str, ...] = ()
    ambiguous: tuple[str, ...] = ()
    generic: tuple[str, ...] = ()
    symbols: tuple[str, ...] = ()
    #: names the index data gives this entity that headlines do not mean it by
    drop: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CompanyFile:
    path: Path
    companies: tuple[CompanyEntry, ...] = ()
    ambiguous_names: frozenset[str] = frozenset()
    generic_names: frozenset[str] = frozenset()
    not_names: frozenset[str] = frozenset()


# -- names ---------------------------------------------------------------------------------


def clean_name(name: str) -> str:
    """The index's name without parentheses or extra spaces: the display name."""
    return " ".join(_PARENTHESIS.sub("", name).split())


def short_name(name: str) -> str:
    """What headlines call a company: its name without legal form, share class or "The"
    ("Apple Inc." -> "Apple", "The Hershey Company" -> "Hershey")."""
    short = _GLUED_CLASS.sub(r"\1", clean_name(name))
    while True:
        stripped = _DANGLING.sub("", _LEGAL.sub("", short)).strip(" ,")
        if stripped == short or not stripped:
            break
        short = stripped
    if short.startswith("The ") and len(short) > 4:
        short = short[4:]
    return short


def with_apostrophes(names: Iterable[str]) -> tuple[str, ...]:
    """Each name, plus its twin with the other apostrophe (' and U+2019): "McDonald's"
    is written both ways."""
    out: dict[str, None] = {}
    for name in names:
        out[name] = None
        if "'" in name:
            out[name.replace("'", "\u2019")] = None
        if "\u2019" in name:
            out[name.replace("\u2019", "'")] = None
    return tuple(out)


# -- the index data ------------------------------------------------------------------------


def _country(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip() or value.strip().lower() == "none":
        return None
    last = value.replace(";", ",").split(",")[-1].strip()
    return "United States" if last in _US_STATES else last


def _symbol(yahoo: str) -> str:
    """Yahoo's US class shares use '-' (BRK-B); headlines and cashtags write '.'."""
    base, dot, suffix = yahoo.rpartition(".")
    if dot and suffix in SUFFIX_EXCHANGE:
        return f"{base}.{suffix}"
    return yahoo.replace("-", ".")


def split_symbol(symbol: str) -> tuple[str, str]:
    """``SAP.DE`` -> (``SAP``, ``DE``); ``BRK.B`` and ``AAPL`` -> (themselves, ``""``)."""
    base, dot, suffix = symbol.rpartition(".")
    if dot and suffix in SUFFIX_EXCHANGE:
        return base, suffix
    return symbol, ""


def _exchange(stock: Mapping[str, Any], symbol: str, listings: Sequence[Mapping[str, Any]]) -> str:
    ticker, suffix = split_symbol(symbol)
    if suffix:
        return SUFFIX_EXCHANGE[suffix]
    for listing in listings:
        prefix, _, google_ticker = str(listing.get("google") or "").partition(":")
        if google_ticker.replace("-", ".") == ticker and prefix.upper() in _US_EXCHANGES:
            return _US_EXCHANGES[prefix.upper()]
    traded = str((stock.get("metadata") or {}).get("traded_as") or "").split(":")[0].strip()
    return _US_EXCHANGES.get(traded.upper(), "US")  # a US listing, the exchange not given


def index_entities() -> list[Entity]:
    """One entity per company of the indices that has a symbol; names as given, cleaned.

    A symbol without exchange suffix that is not among the company's own listings while
    ``<symbol>.<suffix>`` is (Aperam's ``APAM``, an LSE code) becomes the latter. Two
    companies with the same symbol: the first (by name) keeps it.
    """
    from pytickersymbols import PyTickerSymbols  # type: ignore[import-untyped]  # 2 MB: lazily

    entities: dict[str, Entity] = {}
    for stock in PyTickerSymbols().get_all_stocks():
        raw, name = stock.get("symbol"), clean_name(str(stock.get("name") or ""))
        if not raw or not name:
            continue
        listings = [s for s in stock.get("symbols") or [] if isinstance(s, dict)]
        symbols = [_symbol(str(s["yahoo"])) for s in listings if _listed(s)]
        symbol = _primary(_symbol(str(raw)), symbols)
        if symbol in entities:
            continue
        entities[symbol] = Entity(
            id=symbol,
            name=name,
            ticker=split_symbol(symbol)[0],
            exchange=_exchange(stock, symbol, listings),
            country=_country(stock.get("country")),
            symbols=tuple(dict.fromkeys(s for s in symbols if s != symbol)),
        )
    return sorted(entities.values(), key=lambda e: e.id)


def _listed(listing: Mapping[str, Any]) -> bool:
    """A listing whose symbol names the company: an exchange's (not an OTC code that
    another company may trade under, like Siemens's ``SI``), or an OTC ADR or foreign
    ordinary code (five letters ending in Y or F: ``BAYRY``, ``ADDDF``)."""
    yahoo = str(listing.get("yahoo") or "")
    prefix = str(listing.get("google") or "").partition(":")[0].upper()
    if not yahoo or yahoo == "-":
        return False
    if prefix in ("OTCMKTS", "OTC"):
        return len(yahoo) == 5 and yahoo.isalpha() and yahoo[-1] in "YF"
    return True


def _primary(symbol: str, listings: Sequence[str]) -> str:
    if symbol in listings or split_symbol(symbol)[1]:
        return symbol
    suffixed = [s for s in listings if split_symbol(s)[0] == symbol]
    suffixed.sort(key=lambda s: s.endswith(".F"))  # Frankfurt's lines last
    return suffixed[0] if suffixed else symbol


def derive_names(entities: Sequence[Entity], files: Sequence[CompanyFile]) -> list[Entity]:
    """Give each entity its short name as an alias, or as an ambiguous or generic name
    where ``files`` list it so; a short name two entities share, shorter than three
    characters or never a company is not given."""
    ambiguous = frozenset().union(*(f.ambiguous_names for f in files))
    generic = frozenset().union(*(f.generic_names for f in files))
    never = frozenset().union(*(f.not_names for f in files))
    short = {e.id: short_name(e.name) for e in entities}
    shared = {n for n, k in Counter(short.values()).items() if k > 1}
    out = []
    for e in entities:
        name = short[e.id]
        if name in generic:
            out.append(replace(e, generic=(name,)))
        elif name in ambiguous:
            out.append(replace(e, ambiguous=(name,)))
        elif len(name) >= 3 and name not in shared and name not in never and name != e.name:
            out.append(replace(e, aliases=(name,)))
        else:
            out.append(e)
    return out


# -- companies files -------------------------------------------------------------------------


def _strings(entry: Mapping[str, Any], key: str, context: str) -> tuple[str, ...]:
    value = entry.get(key)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigFileError(f"{context}: {key!r} must be a list of non-empty strings")
    return tuple(" ".join(v.split()) for v in value)


def _text(entry: Mapping[str, Any], key: str, context: str) -> str | None:
    value = entry.get(key)
    if value is None:
        return None
    if not isinstance(value, str | int) or not str(value).strip():
        raise ConfigFileError(f"{context}: {key!r} must be a non-empty string")
    return " ".join(str(value).split())


def company_entry(entry: Any, path: Path) -> CompanyEntry:
    context = where(path, entry)
    if not isinstance(entry, dict):
        raise ConfigFileError(f"{context}: each company must be a mapping with an id")
    unknown = set(entry) - _ENTRY_KEYS
    if unknown:
        raise ConfigFileError(f"{context}: unknown key(s) {sorted(unknown)}")
    if isinstance(entry.get("id"), bool):
        raise ConfigFileError(f"{context}: quote the id: YAML reads ON, NO, YES as true/false")
    entity_id = _text(entry, "id", context)
    if entity_id is None or not ID_RE.match(entity_id):
        raise ConfigFileError(
            f"{context}: id {entry.get('id')!r} must be a symbol like AAPL or SAP.DE"
            " (upper-case letters, digits, '.', '-')"
        )
    context = f"{context} (company {entity_id})"
    symbols = tuple(s.upper() for s in _strings(entry, "symbols", context))
    for s in symbols:
        if not ID_RE.match(s):
            raise ConfigFileError(f"{context}: symbol {s!r} is not a symbol like BUD or III.L")
    return CompanyEntry(
        id=entity_id,
        where=context,
        name=_text(entry, "name", context),
        ticker=_text(entry, "ticker", context),
        exchange=_text(entry, "exchange", context),
        country=_text(entry, "country", context),
        aliases=_strings(entry, "aliases", context),
        ambiguous=_strings(entry, "ambiguous", context),
        generic=_strings(entry, "generic", context),
        symbols=symbols,
        drop=_strings(entry, "drop", context),
    )


def load_companies(path: Path) -> CompanyFile:
    """Read a companies file; a malformed one names the file and line."""
    data = load_yaml(path)
    if data is None:
        return CompanyFile(path)
    if not isinstance(data, dict):
        raise ConfigFileError(f"{path}: expected a mapping with a 'companies' list")
    unknown = set(data) - _FILE_KEYS
    if unknown:
        raise ConfigFileError(f"{where(path, data)}: unknown key(s) {sorted(unknown)}")
    raw = data.get("companies") or []
    if not isinstance(raw, list):
        raise ConfigFileError(f"{where(path, data)}: 'companies' must be a list")
    companies = [company_entry(entry, path) for entry in raw]
    seen: dict[str, str] = {}
    for c in companies:
        for name in (*c.aliases, *c.ambiguous, *c.generic):
            if seen.setdefault(name, c.id) != c.id:
                raise ConfigFileError(f"{c.where}: name {name!r} is also given to {seen[name]}")
    context = where(path, data)
    return CompanyFile(
        path=path,
        companies=tuple(companies),
        ambiguous_names=frozenset(_strings(data, "ambiguous_names", context)),
        generic_names=frozenset(_strings(data, "generic_names", context)),
        not_names=frozenset(_strings(data, "not_names", context)),
    )


def apply(entities: dict[str, Entity], companies: CompanyFile) -> None:
    """Add or change the file's companies in ``entities`` (by id, in place): given fields
    replace, names add (and leave any other entity that had them), ``drop`` removes."""
    for c in companies.companies:
        old = entities.get(c.id)
        if old is None:
            if c.name is None:
                raise ConfigFileError(f"{c.where}: a company not in the registry needs a name")
            ticker, suffix = split_symbol(c.id)
            exchange = SUFFIX_EXCHANGE.get(suffix, "")
            old = Entity(id=c.id, name=c.name, ticker=ticker, exchange=exchange)
        given = {*c.aliases, *c.ambiguous, *c.generic}
        for other in list(entities.values()):
            if other.id != c.id and given & other.all_names:
                entities[other.id] = _without(other, given)
        entities[c.id] = replace(
            _without(old, set(c.drop)),
            name=c.name or old.name,
            ticker=c.ticker or old.ticker,
            exchange=c.exchange or old.exchange,
            country=c.country or old.country,
            symbols=tuple(dict.fromkeys((*old.symbols, *c.symbols))),
        )
        e = entities[c.id]  # a name takes the kind this entry gives it
        entities[c.id] = replace(
            e,
            aliases=_merge(e.aliases, c.aliases, {*c.ambiguous, *c.generic}),
            ambiguous=_merge(e.ambiguous, c.ambiguous, {*c.aliases, *c.generic}),
            generic=_merge(e.generic, c.generic, {*c.aliases, *c.ambiguous}),
        )


def _without(entity: Entity, names: set[str]) -> Entity:
    return replace(
        entity,
        aliases=tuple(a for a in entity.aliases if a not in names),
        ambiguous=tuple(a for a in entity.ambiguous if a not in names),
        generic=tuple(a for a in entity.generic if a not in names),
    )


def _merge(old: tuple[str, ...], new: tuple[str, ...], elsewhere: set[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(n for n in (*old, *new) if n not in elsewhere))


def build_registry(files: Sequence[CompanyFile], base: Sequence[Entity] = ()) -> Registry:
    """The registry of ``base`` (index entities, names not yet derived) and ``files``,
    a later file winning."""
    entities = {e.id: e for e in derive_names(base, files)}
    for f in files:
        apply(entities, f)
    not_names = frozenset().union(*(f.not_names for f in files))
    return Registry(entities=tuple(entities.values()), not_names=not_names)


def load_registry(*paths: Path) -> Registry:
    """The shipped registry (index constituents and ``companies.yaml``) plus the user's
    companies files, in order; a malformed file names the file and line."""
    files = [load_companies(DEFAULT_COMPANIES), *(load_companies(p) for p in paths)]
    return build_registry(files, base=_index())


@cache
def _index() -> tuple[Entity, ...]:
    return tuple(index_entities())
