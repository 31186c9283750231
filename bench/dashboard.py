"""Dashboard speed on a month of news: every page's queries and its whole render.

Seeds a fresh PostgreSQL database with 1,000,000 scored articles over 30 days across
50 topics (the market-wide topic on every article plus one or two of 49 others, every
20th article a syndicated copy), the buckets they imply, alerts, webhook deliveries,
feed health and worker counters, all with ``INSERT ... SELECT generate_series`` (the
secondary indexes are dropped during the load and rebuilt after). Then, side by side:

- each page's queries as the pages issue them (``storage.articles``, ``storage.alerts``,
  ``storage.workers``);
- the same answers the naive way: series and topic summaries aggregated from the raw
  article rows instead of the buckets, distinct topics and sources by ``SELECT
  DISTINCT`` over every row (each checked to give the same answer);
- each page rendered by Streamlit's AppTest (script, queries, DataFrames, charts) with
  the loaders' cache cleared before every run (cold), and once more warm.

    python bench/dashboard.py                       # 1,000,000 articles, 5 runs each
    python bench/dashboard.py --articles 100000 --repeat 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Table, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.database import fresh_database
from bench.machine import header
from storage import alerts as alert_store
from storage import articles as article_store
from storage import workers as worker_store
from storage.alerts import list_alerts
from storage.articles import SeriesPoint, latest_articles, topic_series
from storage.feeds import source_health
from storage.models import ArticleRow, ArticleSentimentRow, ArticleTopicRow, TopicBucketRow

APP = Path(__file__).resolve().parent.parent / "dashboard" / "app.py"
DAYS = 30
TOPICS = 49  # plus the market-wide topic on every article
SOURCES = 40
WORDS = ["rally", "slump", "merger", "earnings beat", "guidance cut", "lawsuit", "upgrade", "cut"]


# --- seeding ---------------------------------------------------------------------------


def _tables() -> list[Table]:
    out = []
    for model in (ArticleRow, ArticleSentimentRow, ArticleTopicRow, TopicBucketRow):
        table = model.__table__
        assert isinstance(table, Table)
        out.append(table)
    return out


def seed(engine: Engine, n: int, now: datetime) -> dict[str, float]:
    """Load ``n`` articles and everything that hangs off them; seconds per step."""
    steps: dict[str, float] = {}
    words = "ARRAY[" + ", ".join(f"'{w}'" for w in WORDS) + "]"
    period = DAYS * 86400
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL synchronous_commit = off"))
        conn.execute(text("SET LOCAL maintenance_work_mem = '256MB'"))
        conn.execute(text("SET LOCAL work_mem = '64MB'"))
        for table in _tables():
            for index in table.indexes:
                index.drop(conn)

        def step(name: str, sql: str, **params: Any) -> None:
            start = time.perf_counter()
            conn.execute(text(sql), params)
            steps[name] = time.perf_counter() - start
            print(f"  {name}: {steps[name]:.1f} s", flush=True)

        step(
            "source rows",
            "CREATE TEMP TABLE src ON COMMIT DROP AS "
            "SELECT g, CAST(:now AS timestamptz) - make_interval("
            "  secs => ((g * 2654435761::bigint) % :period) + (g % 997) / 1000.0) AS t "
            "FROM generate_series(1, :n) AS g",
            now=now,
            period=period,
            n=n,
        )
        step(
            "articles",
            "INSERT INTO articles (id, source, url, title, body, published_at, fetched_at, "
            "lang, tickers, duplicate_of, stored_at) "
            "SELECT 'bench-' || g, 'source-' || lpad((g % :sources)::text, 2, '0'), "
            "'https://bench.example/' || g, "
            f"'Headline ' || g || ': ' || ({words})[(g % {len(WORDS)}) + 1] "
            "  || ' at company ' || (g % 997), "
            "NULL, t, t + interval '5 seconds', 'en', '[]'::json, "
            "CASE WHEN g % 20 = 0 THEN 'bench-' || (g - 1) END, t + interval '6 seconds' "
            "FROM src",
            sources=SOURCES,
        )
        step(
            "sentiment",
            "INSERT INTO article_sentiment (article_id, label, p_negative, p_neutral, "
            "p_positive, polarity, model_name, model_revision, scored_at) "
            "SELECT 'bench-' || g, label, pn, pu, pp, pp - pn, 'bench-model', 'r1', "
            "t + interval '6 seconds' FROM ("
            "  SELECT g, t, label,"
            "    CASE label WHEN 'negative' THEN 0.7 + j WHEN 'neutral' THEN 0.1 "
            "      ELSE 0.1 - j / 2 END AS pn,"
            "    CASE label WHEN 'neutral' THEN 0.8 ELSE 0.2 - j / 2 END AS pu,"
            "    CASE label WHEN 'positive' THEN 0.7 + j WHEN 'neutral' THEN 0.1 "
            "      ELSE 0.1 - j / 2 END AS pp"
            "  FROM (SELECT g, t, ((g::bigint * 7919) % 100) / 1000.0 AS j,"
            "    CASE WHEN (g + extract(epoch FROM t)::bigint / 86400) % 10 < 3 THEN 'negative'"
            "      WHEN (g + extract(epoch FROM t)::bigint / 86400) % 10 < 7 THEN 'neutral'"
            "      ELSE 'positive' END AS label"
            "    FROM src) AS s) AS p",
        )
        step(
            "topics",
            "INSERT INTO article_topics (article_id, topic, published_at) "
            "SELECT 'bench-' || g, 'market', t FROM src "
            "UNION ALL SELECT 'bench-' || g, 'topic-' || lpad((g % :k)::text, 2, '0'), t FROM src "
            "UNION ALL SELECT 'bench-' || g, "
            "  'topic-' || lpad((((g % :k) + 1 + (g / 3) % (:k - 1)) % :k)::text, 2, '0'), t "
            "  FROM src WHERE g % 3 = 0",
            k=TOPICS,
        )
        for width in (60, 3600, 86400):
            step(
                f"buckets {width} s",
                "INSERT INTO topic_buckets (topic, width_s, bucket_start, n_negative, "
                "n_neutral, n_positive, polarity_sum) "
                "SELECT t.topic, :w, "
                "  to_timestamp(floor(extract(epoch FROM t.published_at) / :w) * :w), "
                "  count(*) FILTER (WHERE s.label = 'negative'), "
                "  count(*) FILTER (WHERE s.label = 'neutral'), "
                "  count(*) FILTER (WHERE s.label = 'positive'), sum(s.polarity) "
                "FROM article_topics t "
                "JOIN article_sentiment s ON s.article_id = t.article_id "
                "JOIN articles a ON a.id = t.article_id "
                "WHERE a.duplicate_of IS NULL GROUP BY 1, 3",
                w=width,
            )
        start = time.perf_counter()
        for table in _tables():
            for index in table.indexes:
                index.create(conn)
        steps["indexes"] = time.perf_counter() - start
        print(f"  indexes: {steps['indexes']:.1f} s", flush=True)
        step(
            "alerts",
            "INSERT INTO alerts (id, fingerprint, rule, topic, severity, status, starts_at, "
            "ends_at, updated_at, value, baseline, threshold, details) "
            "SELECT 'alert-' || i, 'negative-surge:topic-' || lpad((i % :k)::text, 2, '0'), "
            "'negative-surge', 'topic-' || lpad((i % :k)::text, 2, '0'), 'warning', "
            "CASE WHEN i <= 8 THEN 'firing' ELSE 'resolved' END, s, "
            "CASE WHEN i <= 8 THEN NULL ELSE s + interval '40 minutes' END, s, "
            "0.6, 0.3, 0.5, "
            "CASE WHEN i % 2 = 0 THEN json_build_object('firing', json_build_object("
            "  'summary', 'negative share 60% against 30%', "
            "  'window', json_build_object('seconds', 900), "
            "  'headlines', json_build_array(json_build_object('title', 'Headline ' || i, "
            "  'source', 'source-01', 'url', 'https://bench.example/' || i, 'polarity', -0.8)))) "
            "ELSE '{}'::json END "
            "FROM (SELECT i, CAST(:now AS timestamptz) - make_interval(secs => i * 7919 % :period) "
            "  - CASE WHEN i <= 8 THEN interval '0' ELSE interval '1 hour' END AS s "
            "  FROM generate_series(1, 300) AS i) AS a",
            k=TOPICS,
            now=now,
            period=period,
        )
        step(
            "deliveries",
            "INSERT INTO webhook_deliveries (event_id, receiver, payload, status, attempts, "
            "last_status, last_error, created_at, delivered_at) "
            "SELECT 'event-' || a.id, r, json_build_object('alert_id', a.id), "
            "CASE WHEN r = 'flaky' AND a.starts_at > :now - interval '3 days' THEN 'failed' "
            "  ELSE 'delivered' END, 1, 200, NULL, a.starts_at, a.starts_at "
            "FROM alerts a CROSS JOIN (VALUES ('ops'), ('flaky')) AS v(r)",
            now=now,
        )
        step(
            "feeds",
            "INSERT INTO source_health (feed, url, last_fetch_at, last_success_at, last_status, "
            "items_seen, items_new, items_duplicate, consecutive_failures) "
            "SELECT 'source-' || lpad(i::text, 2, '0'), 'https://feeds.example/' || i, "
            "CAST(:now AS timestamptz), CAST(:now AS timestamptz), 200, 25000, 24000, 1000, 0 "
            "FROM generate_series(0, :s - 1) AS i",
            now=now,
            s=SOURCES,
        )
        step(
            "worker counters",
            "INSERT INTO worker_counters (worker, agent, started_at, updated_at, processed, "
            "dead_lettered, retried, batches) "
            "SELECT 'host-' || w, a, CAST(:now AS timestamptz) - interval '30 days', "
            "CAST(:now AS timestamptz), 500000, 12, 3, 2000 "
            "FROM generate_series(1, 2) AS w CROSS JOIN (VALUES ('classify'), ('persist')) AS v(a)",
            now=now,
        )
    start = time.perf_counter()
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
    steps["vacuum analyze"] = time.perf_counter() - start
    return steps


# --- the naive way -------------------------------------------------------------------


def naive_series(
    engine: Engine, topics: list[str], start: datetime, end: datetime, resolution_s: int
) -> list[SeriesPoint]:
    """The series aggregated from the raw article rows (no buckets), zero-filled."""
    sql = text(
        "SELECT t.topic, to_timestamp(floor(extract(epoch FROM t.published_at) / :r) * :r), "
        "count(*) FILTER (WHERE s.label = 'negative'), "
        "count(*) FILTER (WHERE s.label = 'neutral'), "
        "count(*) FILTER (WHERE s.label = 'positive'), sum(s.polarity) "
        "FROM article_topics t JOIN article_sentiment s ON s.article_id = t.article_id "
        "JOIN articles a ON a.id = t.article_id "
        "WHERE t.topic = ANY(:topics) AND t.published_at >= :start AND t.published_at < :end "
        "AND a.duplicate_of IS NULL GROUP BY 1, 2"
    )
    from storage.buckets import grid

    starts = grid(start, end, resolution_s)
    with engine.connect() as conn:
        rows = {
            (topic, bucket): (neg, neu, pos, pol)
            for topic, bucket, neg, neu, pos, pol in conn.execute(
                sql, {"r": resolution_s, "topics": topics, "start": starts[0], "end": end}
            )
        }
    return [
        SeriesPoint(topic, t, *rows.get((topic, t), (0, 0, 0, 0.0)))
        for topic in topics
        for t in starts
    ]


def naive_topic_totals(engine: Engine, now: datetime) -> dict[str, int]:
    """Per-topic volume over the overview's 24 hours, from the raw rows."""
    start = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=23)
    sql = text(
        "SELECT t.topic, count(*) FROM article_topics t "
        "JOIN articles a ON a.id = t.article_id "
        "WHERE t.published_at >= :start AND t.published_at < :now AND a.duplicate_of IS NULL "
        "GROUP BY 1"
    )
    with engine.connect() as conn:
        return {topic: int(n) for topic, n in conn.execute(sql, {"start": start, "now": now})}


def naive_distinct(engine: Engine, table: str, column: str) -> list[str]:
    with engine.connect() as conn:
        return [
            str(v)
            for (v,) in conn.execute(text(f"SELECT DISTINCT {column} FROM {table} ORDER BY 1"))
        ]


# --- timing ----------------------------------------------------------------------------


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Median seconds of ``repeat`` runs, and the last result."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def page_queries(engine: Engine, now: datetime) -> dict[str, list[tuple[str, Callable[[], Any]]]]:
    day, month = now - timedelta(days=1), now - timedelta(days=DAYS)
    three = ["market", "topic-01", "topic-02"]
    hour = now.replace(minute=0, second=0, microsecond=0)
    return {
        "Overview": [
            ("market_mood", lambda: article_store.market_mood(engine, now)),
            (
                "topic_summaries (50 topics x 24 h)",
                lambda: article_store.topic_summaries(engine, now),
            ),
            ("firing alerts", lambda: list_alerts(engine, status="firing", limit=50)),
        ],
        "Topic": [
            ("topic_names (skip scan)", lambda: article_store.topic_names(engine)),
            ("series market 24 h @ 1 h", lambda: topic_series(engine, ["market"], day, now, 3600)),
            ("series 3 topics 30 d @ 1 h", lambda: topic_series(engine, three, month, now, 3600)),
            (
                "series market 30 d @ 1 d",
                lambda: topic_series(engine, ["market"], month, now, 86400),
            ),
            (
                "series market 6 h @ 1 min",
                lambda: topic_series(engine, ["market"], now - timedelta(hours=6), now, 60),
            ),
            (
                "alerts_overlapping",
                lambda: alert_store.alerts_overlapping(engine, three, month, now),
            ),
            (
                "headlines market, last full hour",
                lambda: article_store.headlines_between(
                    engine, "market", hour - timedelta(hours=1), hour
                ),
            ),
            (
                "headlines market, last 24 h",
                lambda: article_store.headlines_between(
                    engine, "market", now - timedelta(days=1), now
                ),
            ),
        ],
        "Live feed": [
            ("source_names (skip scan)", lambda: article_store.source_names(engine)),
            (
                "latest 100, 24 h",
                lambda: latest_articles(engine, since=day, include_duplicates=False, limit=100),
            ),
            (
                "latest 100, negative, topic-07",
                lambda: latest_articles(
                    engine,
                    since=day,
                    label="negative",
                    topic="topic-07",
                    include_duplicates=False,
                    limit=100,
                ),
            ),
            (
                "latest 100, text 'slump'",
                lambda: latest_articles(
                    engine, since=day, text="slump", include_duplicates=False, limit=100
                ),
            ),
            (
                "duplicates_of 100",
                lambda: article_store.duplicates_of(
                    engine,
                    [
                        a.id
                        for a in latest_articles(
                            engine, since=day, include_duplicates=False, limit=100
                        )
                    ],
                ),
            ),
        ],
        "Alerts": [
            (
                "alerts 7 days",
                lambda: list_alerts(engine, since=now - timedelta(days=7), limit=500),
            ),
            ("receiver_summaries", lambda: alert_store.receiver_summaries(engine)),
            (
                "deliveries_since 7 days",
                lambda: alert_store.deliveries_since(engine, now - timedelta(days=7)),
            ),
        ],
        "Sources and model": [
            ("source_health", lambda: source_health(engine)),
            ("worker_counters", lambda: worker_store.worker_counters(engine)),
            ("models_in_use", lambda: article_store.models_in_use(engine)),
            ("freshness", lambda: article_store.freshness(engine)),
        ],
    }


def comparisons(
    engine: Engine, now: datetime
) -> list[tuple[str, Callable[[], Any], Callable[[], Any]]]:
    """(what, our way, the naive way): each pair must give the same answer."""
    month, day = now - timedelta(days=DAYS), now - timedelta(days=1)
    three = ["market", "topic-01", "topic-02"]

    def ours_totals() -> dict[str, int]:
        return {s.topic: s.total.n for s in article_store.topic_summaries(engine, now) if s.total.n}

    return [
        ("overview topics, 24 h", ours_totals, lambda: naive_topic_totals(engine, now)),
        (
            "series market 30 d @ 1 d",
            lambda: topic_series(engine, ["market"], month, now, 86400),
            lambda: naive_series(engine, ["market"], month, now, 86400),
        ),
        (
            "series 3 topics 30 d @ 1 h",
            lambda: topic_series(engine, three, month, now, 3600),
            lambda: naive_series(engine, three, month, now, 3600),
        ),
        (
            "series market 24 h @ 1 min",
            lambda: topic_series(engine, ["market"], day, now, 60),
            lambda: naive_series(engine, ["market"], day, now, 60),
        ),
        (
            "distinct topics",
            lambda: article_store.topic_names(engine),
            lambda: naive_distinct(engine, "article_topics", "topic"),
        ),
        (
            "distinct sources",
            lambda: article_store.source_names(engine),
            lambda: naive_distinct(engine, "articles", "source"),
        ),
    ]


def same(a: Any, b: Any) -> bool:
    if isinstance(a, list) and a and isinstance(a[0], SeriesPoint):
        return [(p.topic, p.bucket_start, p.n_negative, p.n_neutral, p.n_positive) for p in a] == [
            (p.topic, p.bucket_start, p.n_negative, p.n_neutral, p.n_positive) for p in b
        ] and all(abs(x.polarity_sum - y.polarity_sum) < 1e-6 for x, y in zip(a, b, strict=True))
    return bool(a == b)


PAGES = {
    "Overview": None,
    "Topic": "views/topic.py",
    "Live feed": "views/feed.py",
    "Alerts": "views/alerts.py",
    "Sources and model": "views/sources.py",
}


def render_times(url: str, repeat: int) -> dict[str, tuple[float, float]]:
    """Median cold (cache cleared) and warm AppTest run time of each page."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from dashboard.config import DashboardConfig

    os.environ.update(DashboardConfig(database_url=url, refresh_interval=3600).to_environ())
    out: dict[str, tuple[float, float]] = {}
    AppTest.from_file(APP, default_timeout=120).run()  # imports and the engine, once
    for page, path in PAGES.items():
        cold, warm = [], []
        for _ in range(repeat):
            at = AppTest.from_file(APP, default_timeout=120)
            if path is not None:
                at.run()
                at.switch_page(path)
            st.cache_data.clear()
            start = time.perf_counter()
            at.run()
            cold.append(time.perf_counter() - start)
            assert not at.exception, [e.value for e in at.exception]
            assert [t.value for t in at.title] == [page], [t.value for t in at.title]
            assert at.dataframe, f"{page}: no table rendered"
            start = time.perf_counter()
            at.run()
            warm.append(time.perf_counter() - start)
        out[page] = (statistics.median(cold), statistics.median(warm))
        print(f"  {page}: cold {out[page][0]:.3f} s, warm {out[page][1]:.3f} s", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5, help="runs of each timing (median)")
    args = parser.parse_args()

    engine, drop = fresh_database()
    try:
        now = datetime.now(UTC)
        print(f"seeding {args.articles:,} articles over {DAYS} days, {TOPICS + 1} topics:")
        start = time.perf_counter()
        steps = seed(engine, args.articles, now)
        seed_s = time.perf_counter() - start
        with engine.connect() as conn:
            counts = {
                t: int(conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one())
                for t in ("articles", "article_topics", "topic_buckets", "alerts")
            }
        print(f"seeded in {seed_s:.0f} s: {counts}")

        print("\nqueries per page (median of", args.repeat, "runs):")
        query_rows = []
        for page, queries in page_queries(engine, now).items():
            total = 0.0
            for name, fn in queries:
                median, _ = timed(fn, args.repeat)
                total += median
                query_rows.append((page, name, median))
            query_rows.append((page, "**all of the page's queries**", total))
        for page, name, median in query_rows:
            print(f"  {page:<18} {name:<40} {1000 * median:9.1f} ms")

        print("\nour way against the naive way (same answer checked):")
        compare_rows = []
        for name, ours, naive in comparisons(engine, now):
            t_ours, a = timed(ours, args.repeat)
            t_naive, b = timed(naive, args.repeat)
            ok = same(a, b)
            compare_rows.append((name, t_ours, t_naive, ok))
            print(
                f"  {name:<30} ours {1000 * t_ours:8.1f} ms  naive {1000 * t_naive:8.1f} ms  "
                f"{t_naive / t_ours:6.1f}x  same answer: {ok}"
            )

        print("\npage render, AppTest (script + queries + frames + charts):")
        url = engine.url.render_as_string(hide_password=False)
        pages = render_times(url, args.repeat)

        print("\n" + header())
        print(
            f"- articles: {counts['articles']:,}; article_topics: {counts['article_topics']:,}; "
            f"topic_buckets: {counts['topic_buckets']:,}; seed: {seed_s:.0f} s "
            f"({', '.join(f'{k} {v:.0f} s' for k, v in steps.items())})\n"
        )
        print("| page | queries (ms) | render cold (ms) | render warm (ms) |")
        print("|---|---:|---:|---:|")
        totals = {p: t for p, n, t in query_rows if n.startswith("**")}
        for page, (cold, warm) in pages.items():
            print(f"| {page} | {1000 * totals[page]:.0f} | {1000 * cold:.0f} | {1000 * warm:.0f} |")
        print("\n| query | ours (ms) | naive (ms) | ratio | same answer |")
        print("|---|---:|---:|---:|---|")
        for name, t_ours, t_naive, ok in compare_rows:
            print(
                f"| {name} | {1000 * t_ours:.1f} | {1000 * t_naive:.1f} | "
                f"{t_naive / t_ours:.1f}x | {'yes' if ok else 'NO'} |"
            )
        print("\n| page | query | median (ms) |")
        print("|---|---|---:|")
        for page, name, median in query_rows:
            print(f"| {page} | {name} | {1000 * median:.1f} |")
    finally:
        drop()


if __name__ == "__main__":
    main()
