"""Reading news files and pacing a replay, with no broker."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from streams.exceptions import ConfigFileError
from streams.publish import prepare, read_rows, rebase, replay
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
