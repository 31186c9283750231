"""The records on the topics: NewsItem, ScoredItem, DeadLetter. JSON with a ``schema``.

Everything that arrives from Kafka is untrusted: ``parse_news_item`` turns raw bytes into
a clean NewsItem or raises ``InvalidRecord`` with a one-line reason, which the agent
sends to the dead-letter topic. This is the one boundary every item passes, whatever
wrote it (the feed scheduler, ``finsent publish``/``replay``, any Kafka client): text
goes through ``streams.text.html_to_text`` (the feeds' own cleaner: an HTML parser,
tags and scripts dropped, entities decoded, control characters removed, whitespace
collapsed), lengths are capped, URLs must be http(s) and are percent-escaped.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import unicodedata
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import quote, urlsplit

from pydantic import BaseModel, ConfigDict, Field

from streams.exceptions import InvalidRecord
from streams.text import html_to_text
from streams.urls import canonical_url

SCHEMA_VERSION = 1
MAX_TITLE_CHARS = 1_000
MAX_BODY_CHARS = 100_000
MAX_SOURCE_CHARS = 200
MAX_URL_CHARS = 2_048
MAX_ID_CHARS = 128
MAX_ENTITY_ID_CHARS = 20  # entities.registry.ID_RE
MAX_RECORD_BYTES = 1_000_000  # Apache Kafka's default message.max.bytes
MAX_DEAD_VALUE_BYTES = 64 * 1024
#: How far in the future a publication time may be (clock skew between sources).
FUTURE_TOLERANCE = timedelta(days=1)
EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)

_ID_RE = re.compile(r"^[A-Za-z0-9._:-]+$")
_TOPIC_HINT_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,99}$")
MAX_TOPIC_HINTS = 20
#: What a URL may hold unescaped (RFC 3986 reserved and unreserved characters, and "%").
URL_SAFE = ":/?#[]@!$&'()*+,;=%~-._"

Label = Literal["negative", "neutral", "positive"]


class NewsItem(BaseModel):
    """A news item as published to ``news.raw`` (clean: see ``parse_news_item``)."""

    model_config = ConfigDict(frozen=True)

    schema_version: int = Field(default=SCHEMA_VERSION, alias="schema")
    id: str
    source: str
    url: str | None = None
    title: str
    body: str | None = None
    published_at: datetime
    fetched_at: datetime
    lang: str | None = None
    #: The first report of the story when this item is a syndicated copy of it.
    duplicate_of: str | None = None
    #: Topics the source says every item of it is about (a feed's ``topics``).
    topic_hints: tuple[str, ...] = ()

    def to_json(self) -> bytes:
        return self.model_dump_json(by_alias=True).encode()


class Sentiment(BaseModel):
    model_config = ConfigDict(frozen=True)

    label: Label
    negative: float = Field(ge=0, le=1)
    neutral: float = Field(ge=0, le=1)
    positive: float = Field(ge=0, le=1)
    polarity: float = Field(ge=-1, le=1)


class ModelRef(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    revision: str


class EntityRef(BaseModel):
    """A registry company an item names (``entities``), and how much the item is about
    it: relevance 0-100 (``entities.relevance``)."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(min_length=1, max_length=MAX_ENTITY_ID_CHARS)
    relevance: int = Field(ge=0, le=100)


class ScoredItem(NewsItem):
    """A NewsItem with its sentiment, topics, tickers and companies, on ``news.scored``.
    ``entities`` is empty in records written before companies were resolved."""

    sentiment: Sentiment
    topics: tuple[str, ...]
    tickers: tuple[str, ...] = ()
    entities: tuple[EntityRef, ...] = ()
    model: ModelRef
    scored_at: datetime


class DeadLetter(BaseModel):
    """A record no stage could use, with why and where it came from."""

    model_config = ConfigDict(frozen=True)

    schema_version: int = Field(default=SCHEMA_VERSION, alias="schema")
    reason: str
    stage: str
    topic: str
    partition: int | None
    offset: int | None
    key: str | None
    value: str | None
    value_encoding: Literal["utf-8", "base64"] = "utf-8"
    value_size: int | None = None
    value_truncated: bool = False
    failed_at: datetime

    def to_json(self) -> bytes:
        return self.model_dump_json(by_alias=True).encode()


def stable_id(url: str | None, source: str, title: str) -> str:
    """sha256 of the canonical URL, or of source + title when there is no URL."""
    basis = canonical_url(url) if url else f"{source}\n{title}"
    return hashlib.sha256(basis.encode()).hexdigest()


def parse_time(value: Any, field: str) -> datetime:
    """An aware UTC datetime from ISO-8601 text or epoch seconds; naive means UTC."""
    if isinstance(value, bool) or value is None:
        raise InvalidRecord(f"{field} is {value!r}, not a time")
    if isinstance(value, int | float):
        try:
            return datetime.fromtimestamp(float(value), UTC)
        except (OverflowError, OSError, ValueError):
            raise InvalidRecord(f"{field}={value!r} is not a valid epoch time") from None
    if not isinstance(value, str):
        raise InvalidRecord(f"{field} must be ISO-8601 text or epoch seconds")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidRecord(f"{field}={value[:64]!r} is not an ISO-8601 time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def decode_json(value: bytes | None) -> dict[str, Any]:
    """The record's JSON object, or ``InvalidRecord`` saying what is wrong with it."""
    if value is None:
        raise InvalidRecord("empty record (null value)")
    if len(value) > MAX_RECORD_BYTES:
        raise InvalidRecord(f"record is {len(value):,} bytes; at most {MAX_RECORD_BYTES:,}")
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InvalidRecord(f"not UTF-8 (byte {e.start})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        # e.msg may end in "at" ("Unterminated string starting at"): the library's own
        # "msg: line L column C" reads right for every message.
        raise InvalidRecord(f"not JSON: {e.msg}: line {e.lineno} column {e.colno}") from None
    if not isinstance(data, dict):
        raise InvalidRecord(f"JSON {type(data).__name__}, expected an object")
    return data


def _text(data: dict[str, Any], field: str, limit: int, *, required: bool) -> str | None:
    raw = data.get(field)
    if raw is None:
        if required:
            raise InvalidRecord(f"missing {field}")
        return None
    if not isinstance(raw, str):
        raise InvalidRecord(f"{field} must be text, got {type(raw).__name__}")
    if len(raw) > limit * 4:  # bound the cleaning work itself
        raise InvalidRecord(f"{field} is {len(raw):,} characters; at most {limit:,}")
    cleaned = html_to_text(raw)
    if len(cleaned) > limit:
        raise InvalidRecord(f"{field} is {len(cleaned):,} characters; at most {limit:,}")
    if required and not cleaned:
        raise InvalidRecord(f"empty {field}")
    return cleaned or None


def _url(data: dict[str, Any]) -> str | None:
    raw = data.get("url")
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str) or len(raw) > MAX_URL_CHARS:
        raise InvalidRecord("url must be text of at most 2,048 characters")
    url = raw.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidRecord(f"url {url[:80]!r} is not an http(s) URL")
    if any(unicodedata.category(ch)[0] == "C" or ch.isspace() for ch in url):
        raise InvalidRecord("url contains whitespace or control characters")
    return escape_url(url)


def escape_url(url: str) -> str:
    """``url`` with every character that RFC 3986 does not allow in a URL (``"<>\\^`{|}``
    and non-ASCII) percent-encoded; existing escapes are kept."""
    escaped = quote(url, safe=URL_SAFE)
    if len(escaped) > MAX_URL_CHARS:
        raise InvalidRecord("url is longer than 2,048 characters once escaped")
    return escaped


def parse_news_item(
    value: bytes | None, key: bytes | None = None, *, now: datetime | None = None
) -> NewsItem:
    """Validate and clean one raw record from ``news.raw``."""
    data = decode_json(value)
    schema = data.get("schema", SCHEMA_VERSION)
    if schema != SCHEMA_VERSION:
        raise InvalidRecord(
            f"unknown schema version {schema!r} (this worker reads {SCHEMA_VERSION})"
        )
    now = now or datetime.now(UTC)
    title = _text(data, "title", MAX_TITLE_CHARS, required=True)
    source = _text(data, "source", MAX_SOURCE_CHARS, required=True)
    assert title is not None and source is not None
    body = _text(data, "body", MAX_BODY_CHARS, required=False)
    url = _url(data)
    lang = data.get("lang")
    if lang is not None and (
        not isinstance(lang, str) or not re.fullmatch(r"[A-Za-z-]{2,16}", lang)
    ):
        raise InvalidRecord(f"lang {str(lang)[:20]!r} is not a language tag")
    fetched_at = parse_time(data["fetched_at"], "fetched_at") if "fetched_at" in data else now
    if "published_at" not in data or data["published_at"] is None:
        published_at = fetched_at
    else:
        published_at = parse_time(data["published_at"], "published_at")
    for name, moment in (("fetched_at", fetched_at), ("published_at", published_at)):
        if moment > now + FUTURE_TOLERANCE:
            raise InvalidRecord(f"{name} {moment.isoformat()} is in the future")
        if moment < EARLIEST:
            raise InvalidRecord(f"{name} {moment.isoformat()} is before {EARLIEST.year}")
    item_id = data.get("id")
    if item_id is None:
        item_id = stable_id(url, source, title)
    elif (
        not isinstance(item_id, str)
        or not item_id
        or len(item_id) > MAX_ID_CHARS
        or not _ID_RE.match(item_id)
    ):
        raise InvalidRecord(f"id {str(item_id)[:40]!r} is not 1-128 characters of [A-Za-z0-9._:-]")
    if key is not None and key.decode("utf-8", "replace") != item_id:
        raise InvalidRecord(f"record key {key[:40]!r} does not match id {item_id[:40]!r}")
    duplicate_of = data.get("duplicate_of")
    if duplicate_of is not None and (
        not isinstance(duplicate_of, str)
        or len(duplicate_of) > MAX_ID_CHARS
        or not _ID_RE.match(duplicate_of)
        or duplicate_of == item_id
    ):
        raise InvalidRecord(f"duplicate_of {str(duplicate_of)[:40]!r} is not another item's id")
    hints = data.get("topic_hints") or []
    if (
        not isinstance(hints, list)
        or len(hints) > MAX_TOPIC_HINTS
        or not all(isinstance(h, str) and _TOPIC_HINT_RE.match(h) for h in hints)
    ):
        raise InvalidRecord("topic_hints must be a list of topic names")
    return NewsItem(
        schema=SCHEMA_VERSION,
        id=item_id,
        source=source,
        url=url,
        title=title,
        body=body,
        published_at=published_at,
        fetched_at=fetched_at,
        lang=lang.lower() if isinstance(lang, str) else None,
        duplicate_of=duplicate_of,
        topic_hints=tuple(dict.fromkeys(hints)),
    )


def dead_letter(
    reason: str,
    *,
    stage: str,
    topic: str,
    partition: int | None,
    offset: int | None,
    key: bytes | None,
    value: bytes | None,
    now: datetime | None = None,
) -> DeadLetter:
    """A dead-letter record that keeps the original bytes (as text when they are UTF-8),
    the first ``MAX_DEAD_VALUE_BYTES`` of them: a dead letter must itself be publishable."""
    encoding: Literal["utf-8", "base64"] = "utf-8"
    text: str | None = None
    kept = value[:MAX_DEAD_VALUE_BYTES] if value is not None else None
    if kept is not None:
        try:
            text = kept.decode("utf-8")
        except UnicodeDecodeError as e:
            if value is not None and len(value) > MAX_DEAD_VALUE_BYTES and e.start >= len(kept) - 3:
                text = kept[: e.start].decode("utf-8")  # cut inside a character
            else:
                text, encoding = base64.b64encode(kept).decode(), "base64"
    return DeadLetter(
        schema=SCHEMA_VERSION,
        reason=reason,
        stage=stage,
        topic=topic,
        partition=partition,
        offset=offset,
        key=key[:1024].decode("utf-8", "replace") if key is not None else None,
        value=text,
        value_encoding=encoding,
        value_size=len(value) if value is not None else None,
        value_truncated=value is not None and len(value) > MAX_DEAD_VALUE_BYTES,
        failed_at=now or datetime.now(UTC),
    )
