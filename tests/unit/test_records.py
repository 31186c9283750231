"""Validation of raw records: every kind of malformed input is a clear reason, never a crash."""

from __future__ import annotations

import base64
import json
import re
import unicodedata
from datetime import UTC, datetime

import pytest

from streams.exceptions import InvalidRecord
from streams.records import (
    MAX_TITLE_CHARS,
    dead_letter,
    parse_news_item,
    stable_id,
)
from streams.text import html_to_text

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def raw(**fields: object) -> bytes:
    base: dict[str, object] = {
        "schema": 1,
        "source": "wire",
        "title": "Oil rises as OPEC cuts output",
        "url": "https://news.example/a",
        "published_at": "2026-03-02T11:00:00Z",
    }
    base.update(fields)
    return json.dumps({k: v for k, v in base.items() if v is not ...}).encode()


def test_a_good_record_is_parsed_and_gets_its_stable_id() -> None:
    item = parse_news_item(raw(), now=NOW)
    assert item.id == stable_id("https://news.example/a", "wire", "ignored")
    assert item.published_at == datetime(2026, 3, 2, 11, 0, tzinfo=UTC)
    assert item.fetched_at == NOW
    assert item.title == "Oil rises as OPEC cuts output"


def test_without_url_the_id_hashes_source_and_title() -> None:
    item = parse_news_item(raw(url=...), now=NOW)
    assert item.id == stable_id(None, "wire", "Oil rises as OPEC cuts output")
    assert item.id != stable_id(None, "other", "Oil rises as OPEC cuts output")


def test_times_in_other_zones_and_epochs_become_utc() -> None:
    assert parse_news_item(raw(published_at="2026-03-02T13:00:00+02:00"), now=NOW).published_at == (
        datetime(2026, 3, 2, 11, 0, tzinfo=UTC)
    )
    epoch = datetime(2026, 3, 2, 10, 0, tzinfo=UTC).timestamp()
    assert parse_news_item(raw(published_at=epoch), now=NOW).published_at.hour == 10
    naive = parse_news_item(raw(published_at="2026-03-02T09:30:00"), now=NOW)
    assert naive.published_at == datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def test_missing_published_at_falls_back_to_fetched_at() -> None:
    item = parse_news_item(raw(published_at=None), now=NOW)
    assert item.published_at == NOW


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"this is not json", "not JSON"),
        (b'{"title": "unterminated', "not JSON: Unterminated string starting at: line 1 column 11"),
        (b"[1, 2, 3]", "JSON list, expected an object"),
        (b'"a string"', "JSON str, expected an object"),
        (None, "empty record"),
        (raw(title=...), "missing title"),
        (raw(title=""), "empty title"),
        (raw(title="   \t "), "empty title"),
        (raw(title="<p> </p>"), "empty title"),
        (raw(title="x" * 1_048_576), "record is 1,048,"),
        (raw(title="x" * 600_000), "title is 600,000 characters"),
        (raw(title="y" * (MAX_TITLE_CHARS + 1)), "at most 1,000"),
        ("Ölpreis".encode("latin-1") + b'{"title": 1}', "not UTF-8"),
        (raw(title=12345), "title must be text, got int"),
        (raw(title=["a"]), "title must be text, got list"),
        (raw(source=...), "missing source"),
        (raw(published_at="3000-01-01T00:00:00Z"), "is in the future"),
        (raw(published_at="1970-01-02T00:00:00Z"), "is before 1990"),
        (raw(fetched_at="9999-12-31T00:00:00Z"), "fetched_at 9999-12-31T00:00:00+00:00 is in"),
        (raw(fetched_at="1980-01-01T00:00:00Z"), "fetched_at 1980-01-01T00:00:00+00:00 is bef"),
        (raw(published_at="yesterday at noon"), "is not an ISO-8601 time"),
        (raw(published_at=True), "not a time"),
        (raw(published_at=1e20), "not a valid epoch time"),
        (raw(published_at={"y": 2026}), "must be ISO-8601 text or epoch seconds"),
        (raw(schema=2), "unknown schema version 2"),
        (raw(schema="1"), "unknown schema version '1'"),
        (raw(url="javascript:alert(1)"), "is not an http(s) URL"),
        (raw(url="https://a.example/x y"), "whitespace or control characters"),
        (raw(id="has spaces in it"), "is not 1-128 characters"),
        (raw(id="x" * 200), "is not 1-128 characters"),
        (raw(id=42), "is not 1-128 characters"),
        (raw(lang="english language"), "is not a language tag"),
        (b"{" + b'"title": "' + b"z" * 1_100_000 + b'"}', "at most 1,000,000"),
    ],
)
def test_malformed_records_are_refused_with_a_reason(value: bytes | None, reason: str) -> None:
    with pytest.raises(InvalidRecord, match=re.escape(reason)):
        parse_news_item(value, now=NOW)


def test_a_key_that_does_not_match_the_id_is_refused() -> None:
    with pytest.raises(InvalidRecord, match="does not match id"):
        parse_news_item(raw(id="abc"), key=b"xyz", now=NOW)
    assert parse_news_item(raw(id="abc"), key=b"abc", now=NOW).id == "abc"


def test_html_and_script_are_stripped_from_the_title() -> None:
    item = parse_news_item(
        raw(title='<b>Bank</b> &amp; <script>alert("x")</script>lender <i>fail</i>'), now=NOW
    )
    assert item.title == "Bank & lender fail"


def test_encoded_tags_do_not_survive() -> None:
    title = "Shares &lt;script&gt;alert(1)&lt;/script&gt; fall"
    assert parse_news_item(raw(title=title), now=NOW).title == "Shares fall"


#: What the hostile-input review stored through `finsent publish` and foreign producers.
HOSTILE = [
    "<img src=x onerror=alert(1)",  # an unterminated tag
    "Oil <b onmouseover=alert(1)>jumps",
    "&lt;img src=x onerror=alert(1)&gt; rates",
    '"><script>alert(1)</script>Fed',
    "Bank\x00 run\u202e gnidaer",
    "<scr<script>ipt>alert(1)</script>Gold",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_every_entry_point_gets_the_feeds_cleaner(text: str) -> None:
    item = parse_news_item(raw(title=f"Markets {text}", source=f"wire {text}"), now=NOW)
    for cleaned, given in ((item.title, f"Markets {text}"), (item.source, f"wire {text}")):
        assert cleaned == html_to_text(given)  # the very function the feed normaliser uses
        assert not re.search(r"<[A-Za-z/!?]", cleaned), cleaned
        assert "onerror=" not in cleaned or "<" not in cleaned
        assert not any(unicodedata.category(ch)[0] == "C" for ch in cleaned)


def test_urls_are_percent_escaped() -> None:
    item = parse_news_item(raw(url='https://a.example/x?q="<b>"&r=`{1}`|^'), now=NOW)
    assert item.url == "https://a.example/x?q=%22%3Cb%3E%22&r=%60%7B1%7D%60%7C%5E"
    kept = parse_news_item(raw(url="https://a.example/caf%C3%A9?a=1#top"), now=NOW)
    assert kept.url == "https://a.example/caf%C3%A9?a=1#top"  # escapes are kept, not doubled


def test_control_characters_and_whitespace_are_cleaned() -> None:
    item = parse_news_item(raw(title="Stocks\x00 fall\x1b[31m \u200b\n\n sharply"), now=NOW)
    assert item.title == "Stocks fall [31m sharply"


def test_a_null_body_is_fine_and_a_body_is_cleaned() -> None:
    assert parse_news_item(raw(body=None), now=NOW).body is None
    assert parse_news_item(raw(body="<p>Full&nbsp;story</p>"), now=NOW).body == "Full story"


def test_non_english_and_emoji_titles_are_kept() -> None:
    assert parse_news_item(raw(title="Ölpreis steigt 📈"), now=NOW).title == "Ölpreis steigt 📈"


def test_dead_letters_keep_the_original_bytes() -> None:
    letter = dead_letter(
        "bad",
        stage="classify",
        topic="news.raw",
        partition=3,
        offset=17,
        key=b"k",
        value=b"\xff\xfe",
        now=NOW,
    )
    assert letter.value_encoding == "base64"
    assert base64.b64decode(letter.value or "") == b"\xff\xfe"
    data = json.loads(letter.to_json())
    assert data["schema"] == 1 and data["partition"] == 3 and data["offset"] == 17
    text = dead_letter(
        "bad",
        stage="classify",
        topic="t",
        partition=0,
        offset=0,
        key=None,
        value=b'{"a": 1}',
        now=NOW,
    )
    assert text.value == '{"a": 1}' and text.value_encoding == "utf-8"


def test_a_huge_dead_letter_keeps_only_the_start() -> None:
    value = b'{"title": "' + "é".encode() * 600_000 + b'"}'
    letter = dead_letter(
        "too big",
        stage="classify",
        topic="t",
        partition=0,
        offset=1,
        key=None,
        value=value,
        now=NOW,
    )
    assert letter.value_truncated and letter.value_size == len(value)
    assert letter.value_encoding == "utf-8"
    assert letter.value is not None and letter.value.startswith('{"title": "éé')
    assert len(letter.to_json()) < 100_000
