"""Fuzzing every reader of outside input (property-based, hypothesis).

The feed parser and normaliser, the CSV/JSONL file readers behind ``finsent publish``,
and the record decoder on ``news.raw`` get arbitrary and hostile input. For each: no
exception escapes but the reader's own one-line refusal, and whatever is accepted
carries no markup, no control character, and a URL that is escaped. Bounded so that the
whole module runs in well under a minute.
"""

from __future__ import annotations

import json
import re
import unicodedata
from datetime import UTC, datetime
from xml.sax.saxutils import escape

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import ConfigFileError
from sources.normalise import NotAFeed, normalise_feed, parse_feed
from streams.exceptions import InvalidRecord
from streams.publish import csv_rows, jsonl_rows, prepare
from streams.records import NewsItem, parse_news_item

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
MARKUP = re.compile(r"<[A-Za-z/!?]")
URL_UNSAFE = set(' "<>\\^`{|}')
FUZZ = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,  # the same examples every run: CI never fails by chance
    suppress_health_check=[HealthCheck.too_slow],
)

#: Pieces hostile feeds and files are made of, mixed into arbitrary text.
HOSTILE_PIECES = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)",
    "&lt;b&gt;",
    "&amp;lt;i&amp;gt;",
    "<![CDATA[<b>x</b>]]>",
    "<!-- c -->",
    '"><svg onload=alert(1)>',
    "\x00",
    "\x1b[31m",
    "\u202e",
    "\ufeff",
    "&#0;",
    "&#x110000;",
    "<scr<script>ipt>",
    "\r\n",
    '"',
    ",",
]
hostile_text = st.lists(
    st.one_of(st.sampled_from(HOSTILE_PIECES), st.text(max_size=20)), max_size=12
).map("".join)


def assert_clean(item: NewsItem) -> None:
    for text in (item.title, item.source, item.body or ""):
        assert not MARKUP.search(text), text
        assert not any(unicodedata.category(ch)[0] == "C" for ch in text), repr(text)
    assert item.title.strip() and item.source.strip()
    if item.url is not None:
        assert item.url.startswith(("http://", "https://"))
        assert not URL_UNSAFE & set(item.url), item.url


@FUZZ
@given(st.binary(max_size=2048))
def test_the_record_decoder_takes_any_bytes(value: bytes) -> None:
    try:
        item = parse_news_item(value, now=NOW)
    except InvalidRecord:
        return
    assert_clean(item)


@FUZZ
@given(
    title=hostile_text,
    source=hostile_text,
    body=st.one_of(st.none(), hostile_text),
    url=st.one_of(st.none(), hostile_text.map(lambda t: "https://a.example/" + t)),
)
def test_the_record_decoder_cleans_hostile_fields(
    title: str, source: str, body: str | None, url: str | None
) -> None:
    record = {"title": title, "source": source, "body": body, "url": url}
    try:
        item = parse_news_item(json.dumps(record).encode(), now=NOW)
    except InvalidRecord:
        return
    assert_clean(item)


@FUZZ
@given(st.lists(hostile_text, max_size=8))
def test_the_jsonl_reader_takes_any_lines(lines: list[str]) -> None:
    prepared = prepare(jsonl_rows(lines), default_source="file", now=NOW)
    for item in prepared.items:
        assert_clean(item)
    assert all(bad.line >= 1 for bad in prepared.bad)


@FUZZ
@given(st.lists(hostile_text, max_size=8))
def test_the_csv_reader_takes_any_lines(lines: list[str]) -> None:
    text = "title,source,url\n" + "\n".join(lines)
    try:
        rows = list(csv_rows(text.splitlines(keepends=True)))
    except ConfigFileError:
        return
    prepared = prepare(rows, default_source="file", now=NOW)
    for item in prepared.items:
        assert_clean(item)


@FUZZ
@given(st.binary(max_size=4096))
def test_the_feed_parser_takes_any_body(body: bytes) -> None:
    try:
        parsed = parse_feed(body, url="https://feed.example/rss", content_type=None)
    except NotAFeed:
        return
    for item in normalise_feed(parsed, source="fuzz", fetched_at=NOW).items:
        assert_clean(item)


@FUZZ
@given(titles=st.lists(hostile_text, min_size=1, max_size=5), link=hostile_text)
def test_the_feed_normaliser_cleans_hostile_entries(titles: list[str], link: str) -> None:
    entries = "".join(
        f"<item><title>{escape(t)}</title><link>{escape('https://a.example/' + link)}</link>"
        f"<description>{escape(t)}</description></item>"
        for t in titles
    )
    body = f'<?xml version="1.0"?><rss version="2.0"><channel>{entries}</channel></rss>'
    try:
        parsed = parse_feed(body.encode(), url="https://feed.example/rss", content_type=None)
    except NotAFeed:
        return
    for item in normalise_feed(parsed, source="fuzz", fetched_at=NOW).items:
        assert_clean(item)
