"""From fetched bytes to clean NewsItems: parse with feedparser, normalise each entry.

Pure: bytes and the fetch time in, items and refusals out. Every entry is checked the
way the worker will check it (``streams.records.parse_news_item``), so what the
scheduler publishes is never dead-lettered for its content.
"""

from __future__ import annotations

import calendar
import io
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import feedparser

from streams.exceptions import InvalidRecord
from streams.records import (
    EARLIEST,
    MAX_BODY_CHARS,
    MAX_TITLE_CHARS,
    MAX_URL_CHARS,
    NewsItem,
    escape_url,
    stable_id,
)
from streams.text import cut, html_to_text
from streams.urls import canonical_url

#: A raw title longer than this is refused, not cleaned (no headline is 64 KiB).
MAX_RAW_TITLE_CHARS = 64 * 1024
#: A raw summary is cut to this many characters before its HTML is parsed.
MAX_RAW_BODY_CHARS = 4 * MAX_BODY_CHARS
_LANG_RE = re.compile(r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$")


class NotAFeed(ValueError):
    """The bytes are not an RSS or Atom feed (an HTML page, garbage, malformed XML)."""


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    version: str
    entries: list[Mapping[str, Any]]
    language: str | None
    warning: str | None  # a recoverable problem (bad encoding declaration, broken XML)


@dataclass(slots=True)
class Normalised:
    items: list[NewsItem] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)


def parse_feed(body: bytes, *, url: str, content_type: str | None) -> ParsedFeed:
    """feedparser over the bytes, and only the bytes.

    feedparser takes a URL, a file name or a document: given bytes or text that look
    like a path or a URL it opens the file or fetches the URL itself (a body of
    ``/etc/passwd`` or ``/dev/zero`` would be read from the local disk). A file-like
    object is always read as the document, so the body goes in as one.

    feedparser's HTML sanitiser and relative-URI pass are off: both re-parse every
    summary's HTML in pure Python (a 9.4 MB summary took 500 MB and seconds), and every
    title and summary is turned into plain text by ``streams.text`` afterwards, which
    drops all markup, scripts included.
    """
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    parsed = feedparser.parse(
        io.BytesIO(body),
        response_headers=headers,
        sanitize_html=False,
        resolve_relative_uris=False,
    )
    problem = parsed.get("bozo_exception") if parsed.get("bozo") else None
    reason = f"{type(problem).__name__}: {problem}" if problem is not None else None
    if not parsed.get("version"):
        kind = "an HTML page" if _looks_like_html(body) else "not RSS or Atom"
        raise NotAFeed(f"{kind} (content type {content_type or 'none'})")
    if problem is not None and not parsed.entries and _is_xml_error(problem):
        raise NotAFeed(f"malformed feed: {reason}")
    language = parsed.get("feed", {}).get("language")
    return ParsedFeed(
        version=str(parsed.version),
        entries=list(parsed.entries),
        language=language if isinstance(language, str) else None,
        warning=reason,
    )


def _looks_like_html(body: bytes) -> bool:
    head = body[:2048].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html")) or b"<body" in head


def _is_xml_error(problem: object) -> bool:
    return type(problem).__name__ in ("SAXParseException", "SAXException", "ExpatError")


def _get(entry: Mapping[str, Any], key: str) -> Any:
    """The entry's own value for ``key``: feedparser's dict maps some missing keys to
    others (with a DeprecationWarning); a plain lookup does not."""
    return dict.get(entry, key) if isinstance(entry, dict) else entry.get(key)


def entry_url(entry: Mapping[str, Any]) -> str | None:
    """The entry's link as a canonical http(s) URL, or None when it has no usable one."""
    link = _get(entry, "link")
    if not isinstance(link, str):
        return None
    link = link.strip()
    if not link or len(link) > MAX_URL_CHARS or any(ch.isspace() or ord(ch) < 32 for ch in link):
        return None
    parts = urlsplit(link)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    try:
        return escape_url(canonical_url(link))  # the same escaping as every record's
    except InvalidRecord:  # too long once escaped
        return None


def entry_time(entry: Mapping[str, Any], fetched_at: datetime) -> datetime:
    """Publication time in UTC: published, else updated, else the fetch time; a time in
    the future is clamped to the fetch time, one before 1990 replaced by it."""
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = _get(entry, key)
        if isinstance(value, time.struct_time):
            try:
                at = datetime.fromtimestamp(calendar.timegm(value), UTC)
            except (OverflowError, OSError, ValueError):
                continue
            if at < EARLIEST:
                return fetched_at
            return min(at, fetched_at)
    return fetched_at


def entry_body(entry: Mapping[str, Any]) -> str | None:
    raw = _get(entry, "summary")
    if not isinstance(raw, str) or not raw.strip():
        content = _get(entry, "content")
        raw = content[0].get("value") if isinstance(content, list) and content else None
    if not isinstance(raw, str):
        return None
    return cut(html_to_text(raw[:MAX_RAW_BODY_CHARS]), MAX_BODY_CHARS) or None


def normalise_entry(
    entry: Mapping[str, Any],
    *,
    source: str,
    fetched_at: datetime,
    lang: str | None = None,
    topic_hints: tuple[str, ...] = (),
) -> NewsItem:
    """One clean NewsItem, or ``ValueError`` saying why the entry is refused."""
    raw_title = _get(entry, "title")
    if not isinstance(raw_title, str) or not raw_title.strip():
        raise ValueError("entry without a title")
    if len(raw_title) > MAX_RAW_TITLE_CHARS:
        raise ValueError(f"title is {len(raw_title):,} characters; refused")
    title = cut(html_to_text(raw_title), MAX_TITLE_CHARS)
    if not title:
        raise ValueError("entry whose title is only markup")
    url = entry_url(entry)
    return NewsItem(
        id=stable_id(url, source, title),
        source=source,
        url=url,
        title=title,
        body=entry_body(entry),
        published_at=entry_time(entry, fetched_at),
        fetched_at=fetched_at,
        lang=lang.lower() if lang and _LANG_RE.match(lang) and len(lang) <= 16 else None,
        topic_hints=topic_hints,
    )


def normalise_feed(
    parsed: ParsedFeed,
    *,
    source: str,
    fetched_at: datetime,
    topic_hints: tuple[str, ...] = (),
    lang: str | None = None,
) -> Normalised:
    """Every entry of a parsed feed, clean, each id once (the first occurrence wins);
    ``lang``, where given, is every item's language, else the feed's declared one."""
    out = Normalised()
    seen: set[str] = set()
    for n, entry in enumerate(parsed.entries, start=1):
        try:
            item = normalise_entry(
                entry,
                source=source,
                fetched_at=fetched_at,
                lang=lang or parsed.language,
                topic_hints=topic_hints,
            )
        except ValueError as e:
            out.rejected.append(f"entry {n}: {e}")
            continue
        if item.id not in seen:
            seen.add(item.id)
            out.items.append(item)
    return out
