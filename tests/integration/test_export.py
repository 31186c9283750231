"""`finsent export` against real PostgreSQL: series and articles to CSV and Parquet, read
back and compared with the storage reads the dashboard and the API run."""

from __future__ import annotations

import csv
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import Engine

from api.export import article_chunks, series_chunks
from storage.articles import latest_articles, save_scored_batch, topic_series
from testkit.factories import article
from testkit.processes import FINSENT
from tests.dashboard_seed import seed

NOW = datetime(2026, 3, 2, 12, 30, 15, tzinfo=UTC)
DAY_BEFORE = NOW - timedelta(days=1)


@pytest.fixture
def seeded(db: Engine) -> Engine:
    seed(db, NOW)
    # five with one and the same time: chunks must neither repeat nor skip across a tie
    tied = NOW - timedelta(minutes=15)
    save_scored_batch(db, [article(100 + i, published_at=tied, topics=("oil",)) for i in range(5)])
    return db


def export(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [FINSENT, "export", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def env(cli_env: dict[str, str], pg_url: str) -> dict[str, str]:
    cli_env["FINSENT_DATABASE_URL"] = pg_url
    return cli_env


def test_articles_to_csv(seeded: Engine, env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "articles.csv"
    done = export(
        env,
        "--what",
        "articles",
        "--start",
        DAY_BEFORE.isoformat(),
        "--end",
        NOW.isoformat(),
        "--out",
        str(out),
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"wrote 17 articles rows to {out}"
    rows = list(csv.DictReader(out.read_text(encoding="utf-8").splitlines()))
    expected = latest_articles(seeded, since=DAY_BEFORE, until=NOW, limit=100)
    assert [r["id"] for r in rows] == [a.id for a in expected]
    first = rows[0]
    assert first["topics"] == "market;oil" and first["source"] == "syndicate-x"
    assert first["published_at"] == "2026-03-02T12:22:15Z"
    assert float(first["polarity"]) == pytest.approx(0.05 - 0.8)
    assert first["url"] == "https://news.example/5" and first["tickers"] == ""
    assert not list(tmp_path.glob(".*partial"))


def test_articles_of_a_topic_to_parquet(
    seeded: Engine, env: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "oil.parquet"
    done = export(
        env,
        "--what",
        "articles",
        "--format",
        "parquet",
        "--key",
        "oil",
        "--start",
        "2026-03-01",
        "--out",
        str(out),
    )
    assert done.returncode == 0, done.stderr
    table = pq.read_table(out)
    assert table.num_rows == 10  # 5 seeded about oil, 5 tied
    expected = latest_articles(seeded, topic="oil", since=datetime(2026, 3, 1, tzinfo=UTC))
    assert table.column("id").to_pylist() == [a.id for a in expected]
    assert str(table.schema.field("published_at").type) == "timestamp[us, tz=UTC]"
    topics = table.schema.field("topics").type
    assert pa.types.is_list(topics) and pa.types.is_string(topics.value_type)
    row = table.slice(0, 1).to_pylist()[0]
    assert row["published_at"] == expected[0].published_at
    assert "oil" in row["topics"]
    assert row["p_negative"] == pytest.approx(expected[0].p_negative)


def test_a_series_to_csv_and_parquet(seeded: Engine, env: dict[str, str], tmp_path: Path) -> None:
    expected = [
        p for key in ("oil", "banks") for p in topic_series(seeded, [key], DAY_BEFORE, NOW, 3600)
    ]
    for fmt in ("csv", "parquet"):
        out = tmp_path / f"series.{fmt}"
        done = export(
            env,
            "--what",
            "series",
            "--format",
            fmt,
            "--key",
            "oil",
            "--key",
            "banks",
            "--resolution",
            "1h",
            "--start",
            DAY_BEFORE.isoformat(),
            "--end",
            NOW.isoformat(),
            "--out",
            str(out),
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == f"wrote {len(expected)} series rows to {out}"
        if fmt == "csv":
            rows = list(csv.DictReader(out.read_text(encoding="utf-8").splitlines()))
            got = [(r["key"], r["start"], int(r["n"]), int(r["n_negative"])) for r in rows]
            want = [
                (p.topic, p.bucket_start.isoformat().replace("+00:00", "Z"), p.n, p.n_negative)
                for p in expected
            ]
        else:
            table = pq.read_table(out).to_pylist()
            got = [(r["key"], r["start"], r["n"], r["n_negative"]) for r in table]
            want = [(p.topic, p.bucket_start, p.n, p.n_negative) for p in expected]
        assert got == want
    assert sum(p.n for p in expected if p.topic == "oil") == 9  # 4 seeded + 5 tied


def test_chunks_walk_every_row_once(seeded: Engine) -> None:
    start = NOW - timedelta(days=2)
    everything = [a.id for a in latest_articles(seeded, since=start, until=NOW, limit=1000)]
    assert len(everything) == 17
    for size in (1, 2, 3, 5, 17, 100):
        chunks = list(article_chunks(seeded, start, NOW, chunk=size))
        assert all(len(c) == size for c in chunks[:-1])
        assert [a.id for c in chunks for a in c] == everything, size
    whole = topic_series(seeded, ["market"], start, NOW, 60)
    for size in (7, 1000, 5000):
        pieces = list(series_chunks(seeded, ["market"], start, NOW, 60, chunk=size))
        assert all(len(p) <= size for p in pieces)
        flat = [p for piece in pieces for p in piece]
        assert [(p.start, p.n, p.mean_polarity) for p in flat] == [
            (p.bucket_start, p.n, p.mean_polarity) for p in whole
        ]


def test_an_empty_range_writes_the_header_only(
    seeded: Engine, env: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "none.csv"
    done = export(
        env, "--what", "articles", "--start", "2020-01-01", "--end", "2020-01-02", "--out", str(out)
    )
    assert done.returncode == 0, done.stderr
    assert "wrote 0 articles rows" in done.stdout
    assert out.read_text().splitlines()[0].startswith("id,source,url,title,published_at")


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--what", "series", "--start", "2026-03-01"], "needs at least one --key"),
        (["--what", "articles", "--key", "a", "--key", "b", "--start", "2026-03-01"], "one --key"),
        (["--what", "articles", "--start", "2026-03-01T10:00:00"], "has no time zone"),
        (["--what", "articles", "--start", "last week"], "is not an ISO 8601 time"),
        (
            ["--what", "articles", "--start", "2026-03-02", "--end", "2026-03-01"],
            "is not after --start",
        ),
        (["--what", "everything", "--start", "2026-03-01"], "--what"),
        (["--what", "articles", "--format", "xlsx", "--start", "2026-03-01"], "--format"),
        (
            ["--what", "series", "--key", "oil", "--resolution", "2h", "--start", "2026-03-01"],
            "--resolution",
        ),
        (["--what", "articles", "--start", "2026-03-01"], "--out"),
    ],
)
def test_bad_arguments_exit_2_naming_them(
    env: dict[str, str], tmp_path: Path, args: list[str], says: str
) -> None:
    out = [] if says == "--out" else ["--out", str(tmp_path / "x.csv")]
    done = export(env, *args, *out)
    assert done.returncode == 2, done.stderr
    assert says in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "x.csv").exists()


def test_an_unwritable_path_is_one_line_and_leaves_nothing(
    seeded: Engine, env: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "no-such-directory" / "articles.csv"
    done = export(env, "--what", "articles", "--start", "2026-03-01", "--out", str(out))
    assert done.returncode == 1
    assert done.stderr.strip() == f"error: cannot write {out}: No such file or directory"
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    done = export(
        env,
        "--what",
        "articles",
        "--start",
        "2026-03-01",
        "--format",
        "parquet",
        "--out",
        str(a_file / "articles.parquet"),
    )
    assert done.returncode == 1
    assert (
        done.stderr.strip() == f"error: cannot write {a_file / 'articles.parquet'}: Not a directory"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]
