"""Reading news files and pacing a replay, with no broker."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.errors import ConfigFileError
from streams.exceptions import InvalidRecord
from streams.publish import (
    BadLine,
    describe_bad_lines,
    parse_time_text,
    prepare,
    read_rows,
    rebase,
    replay,
)
from streams.records import stable_id

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def test_csv_rows_use_title_or_text_and_get_stable_ids(tmp_path: Path) -> None:
    path = tmp_path / "news.csv"
    path.write_text("text,label,url\nOil jumps,1,https://a.example/1\n,2,\nFed holds,2,\n")
    prepared = prepare(read_rows(path), default_source="news", now=NOW)
    assert [i.title for i in prepared.items] == ["Oil jumps", "Fed holds"]
    assert prepared.items[0].id == stable_id("https://a.example/1", "news", "Oil jumps")
    assert prepared.items[1].id == stable_id(None, "news", "Fed holds")
    assert prepared.errors == ["line 3: missing title"]


def test_jsonl_reports_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "news.jsonl"
    path.write_text('{"title": "a", "source": "s"}\n\n[1]\n{oops\n{"title": "b"}\n')
    prepared = prepare(read_rows(path), default_source="file", now=NOW)
    assert [i.source for i in prepared.items] == ["s", "file"]
    assert prepared.errors == [
        "line 3: not an object",
        "line 4: not JSON: Expecting property name enclosed in double quotes",
    ]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("a.txt", b"x", "expected a .csv or .jsonl file"),
        ("a.csv", b"foo,bar\n1,2\n", "needs a header with one of title, text, headline"),
        ("a.csv", b"title\n\xff\xfe\n", "not UTF-8"),
    ],
)
def test_bad_files_are_explained(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ConfigFileError, match=message):
        list(read_rows(path))


def test_an_unterminated_csv_quote_costs_its_line_not_the_rest_of_the_file(
    tmp_path: Path,
) -> None:
    path = tmp_path / "news.csv"
    path.write_text('title,url\n"Oil jumps,https://a.example/1\nFed holds,\nGold slips,\n')
    prepared = prepare(read_rows(path), default_source="news", now=NOW)
    assert [i.title for i in prepared.items] == ["Fed holds", "Gold slips"]
    assert [b.line for b in prepared.bad] == [2]
    assert "unterminated quote" in prepared.bad[0].reason


def test_malformed_csv_records_name_their_first_line(tmp_path: Path) -> None:
    path = tmp_path / "news.csv"
    path.write_text(
        'title,body\n"Oil jumps","two\nlines"\n"Fed"holds,x\nGold, slips,x\nCopper\nTin rises,ok\n'
    )
    prepared = prepare(read_rows(path), default_source="news", now=NOW)
    assert [(i.title, i.body) for i in prepared.items] == [
        ("Oil jumps", "two lines"),
        ("Tin rises", "ok"),
    ]
    assert [str(b) for b in prepared.bad] == [
        "line 4: malformed CSV: ',' expected after '\"'",
        "line 5: 3 fields where the header has 2 (a comma in an unquoted field?)",
        "line 6: 1 field where the header has 2",
    ]


def test_a_byte_order_mark_is_not_part_of_the_header(tmp_path: Path) -> None:
    path = tmp_path / "news.csv"
    path.write_bytes("\ufefftitle\nOil jumps\n".encode())
    assert [i.title for i in prepare(read_rows(path), "news", now=NOW).items] == ["Oil jumps"]


def test_a_malformed_csv_header_is_a_file_error(tmp_path: Path) -> None:
    path = tmp_path / "news.csv"
    path.write_text('"title,url\nOil jumps,x\n')
    with pytest.raises(ConfigFileError, match="line 1: malformed CSV header"):
        list(read_rows(path))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-01T08:00:00Z", datetime(2026, 12, 1, 8, tzinfo=UTC)),
        ("2026-12-01T09:00:00+01:00", datetime(2026, 12, 1, 8, tzinfo=UTC)),
        ("2026-12-01T08:00:00", datetime(2026, 12, 1, 8, tzinfo=UTC)),
        ("Tue, 01 Dec 2026 08:00:00 GMT", datetime(2026, 12, 1, 8, tzinfo=UTC)),
        ("01 Dec 2026 09:00:00 +0100", datetime(2026, 12, 1, 8, tzinfo=UTC)),
        ("Tue, 01 Dec 2026 08:00:00 -0000", datetime(2026, 12, 1, 8, tzinfo=UTC)),
        ("01/12/2026", datetime(2026, 12, 1, tzinfo=UTC)),
        ("1/12/2026 8:00", datetime(2026, 12, 1, 8, tzinfo=UTC)),
        ("01/12/2026 08:00:30", datetime(2026, 12, 1, 8, 0, 30, tzinfo=UTC)),
        ("02/01/2026", datetime(2026, 1, 2, tzinfo=UTC)),  # ambiguous: day first
        ("2026-12-01", datetime(2026, 12, 1, tzinfo=UTC)),
        ("2026-12-01 8:05", datetime(2026, 12, 1, 8, 5, tzinfo=UTC)),
        ("2026-12-01 08:05:09", datetime(2026, 12, 1, 8, 5, 9, tzinfo=UTC)),
        ("1796112000", datetime(2026, 12, 1, 8, tzinfo=UTC)),
        ("1796112000.5", datetime(2026, 12, 1, 8, 0, 0, 500000, tzinfo=UTC)),
        # Chinese dates (issue 26): without a zone UTC, as every other form
        ("2026年12月1日", datetime(2026, 12, 1, tzinfo=UTC)),
        ("2026年12月01日 08:05", datetime(2026, 12, 1, 8, 5, tzinfo=UTC)),
        ("2026年12月1日08:05:09", datetime(2026, 12, 1, 8, 5, 9, tzinfo=UTC)),
        ("2026年12月1日 8时5分", datetime(2026, 12, 1, 8, 5, tzinfo=UTC)),
        ("2026年12月1日 8时05分09秒", datetime(2026, 12, 1, 8, 5, 9, tzinfo=UTC)),
        ("2026年12月1日 16:00 北京时间", datetime(2026, 12, 1, 8, tzinfo=UTC)),
        ("2026年12月1日 16:00（北京时间）", datetime(2026, 12, 1, 8, tzinfo=UTC)),
        ("2026年12月1日 16:00 +08:00", datetime(2026, 12, 1, 8, tzinfo=UTC)),
        ("２０２６年１２月１日 ０８：３０", datetime(2026, 12, 1, 8, 30, tzinfo=UTC)),
        ("２０２６-１２-０１", datetime(2026, 12, 1, tzinfo=UTC)),
    ],
)
def test_the_time_formats_of_news_exports(text: str, expected: datetime) -> None:
    parsed = parse_time_text(text, "published_at")
    assert parsed == expected and parsed.tzinfo is UTC


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("12/31/2026", "read day first"),
        ("31/02/2026", "not a valid time"),
        ("yesterday", "not a time in ISO 8601, RFC 2822"),
        ("2026-13-01", "not a valid time"),
        ("2026年2月30日", "not a valid time"),
        ("2026年12月1日 25:00", "not a valid time"),
        ("12月1日", "not a time in"),  # no year: not guessed
    ],
)
def test_times_that_cannot_be_read_are_refused(text: str, message: str) -> None:
    with pytest.raises(InvalidRecord, match=message):
        parse_time_text(text, "published_at")


def test_rows_with_export_times_are_published_with_them(tmp_path: Path) -> None:
    path = tmp_path / "news.csv"
    path.write_text(
        "title,published_at\n"
        'Oil jumps,"Tue, 01 Dec 2026 08:00:00 GMT"\n'
        "Fed holds,01/12/2026 09:30\n"
        "Gold slips,1796112000\n"
        "Tin rises,soon\n"
    )
    prepared = prepare(read_rows(path), "news", now=datetime(2026, 12, 2, tzinfo=UTC))
    assert [i.published_at for i in prepared.items] == [
        datetime(2026, 12, 1, 8, tzinfo=UTC),
        datetime(2026, 12, 1, 9, 30, tzinfo=UTC),
        datetime(2026, 12, 1, 8, tzinfo=UTC),
    ]
    assert [b.line for b in prepared.bad] == [5]


def test_bad_lines_are_summarised_with_the_first_few_numbers() -> None:
    assert describe_bad_lines([BadLine(4, "x")]) == "1 bad line (line 4)"
    bad = [BadLine(n, "x") for n in range(2, 10)]
    assert describe_bad_lines(bad, shown=3) == "8 bad lines (first lines 2, 3, 4)"


def items(minutes: list[int]) -> list:  # type: ignore[type-arg]
    rows = [
        {"title": f"t{m}", "source": "s", "published_at": (NOW + timedelta(minutes=m)).isoformat()}
        for m in minutes
    ]
    import json

    from streams.records import parse_news_item

    return [parse_news_item(json.dumps(r).encode(), now=NOW + timedelta(hours=1)) for r in rows]


def test_rebase_keeps_order_and_compresses_gaps() -> None:
    start = datetime(2030, 1, 1, tzinfo=UTC)
    out = rebase(items([10, 0, 30]), start, speed=60)
    assert [i.title for i in out] == ["t0", "t10", "t30"]
    assert [i.published_at - start for i in out] == [
        timedelta(0),
        timedelta(seconds=10),
        timedelta(seconds=30),
    ]


def test_replay_paces_by_publication_time() -> None:
    clock = [0.0]
    sent: list[tuple[str, float]] = []

    def sleep(s: float) -> None:
        clock[0] += s

    n = replay(
        items([0, 1, 3]),
        lambda i: sent.append((i.title, clock[0])),
        speed=60,
        clock=lambda: clock[0],
        sleep=sleep,
    )
    assert n == 3
    assert sent == [("t0", 0.0), ("t1", pytest.approx(1.0)), ("t3", pytest.approx(3.0))]
