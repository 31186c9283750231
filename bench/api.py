"""The read API on a month of news: series and article pages over HTTP, against the
naive ways of answering them.

Seeds a fresh PostgreSQL database as ``bench/dashboard.py`` does (1,000,000 scored
articles over 30 days across 50 topics, the buckets they imply, with ``INSERT ... SELECT
generate_series``), serves the API with uvicorn on a local port (a bearer token, as in
production) and times whole HTTP requests (``httpx``: request, route, query, JSON),
median of N runs after one warm-up. Side by side:

- a series over HTTP, the same storage call without HTTP, and the naive way: the series
  aggregated from the raw article rows instead of the buckets (each answer checked to be
  the same);
- the first page of a topic's articles, and a page 10,000 articles deep by its keyset
  cursor against the same page by ``OFFSET`` (the naive way to page).

It prints the figures; it asserts no time.

    python bench/api.py                       # 1,000,000 articles, 5 runs each
    python bench/api.py --articles 100000 --repeat 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from sqlalchemy import Engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from api.app import create_app
from api.config import ApiConfig
from api.pages import encode_cursor
from bench.dashboard import DAYS, TOPICS, naive_series, seed
from bench.database import fresh_database
from bench.machine import header
from storage.articles import latest_articles, topic_series
from storage.buckets import RESOLUTIONS

TOKEN = "bench-token"  # noqa: S105 - a throwaway token for a throwaway server
#: The dashboard's budget per page (BENCHMARKS.md, "Dashboard"): the API's answers must fit.
PAGE_BUDGET_S = 1.5
DEEP = 10_000


@contextmanager
def serving(engine: Engine) -> Iterator[httpx.Client]:
    """The API on ``engine`` behind uvicorn on a free local port, and a client of it."""
    app = create_app(ApiConfig(engine, (TOKEN,), "bench"))
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise SystemExit("uvicorn did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    headers = {"Authorization": f"Bearer {TOKEN}"}
    try:
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=120
        ) as client:
            yield client
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Median seconds of ``repeat`` runs after one warm-up, and the last result."""
    result = fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def fetch(client: httpx.Client, url: str, **params: Any) -> Any:
    response = client.get(url, params=params or None)
    response.raise_for_status()
    return response.json()


def series_counts(body: dict[str, Any]) -> list[tuple[str, int, int, int]]:
    return [(p["key"], p["n_negative"], p["n_neutral"], p["n_positive"]) for p in body["points"]]


def point_counts(points: list[Any]) -> list[tuple[str, int, int, int]]:
    return [(p.topic, p.n_negative, p.n_neutral, p.n_positive) for p in points]


def offset_page(engine: Engine, topic: str, offset: int, limit: int) -> list[str]:
    """The naive page: the topic's articles newest first, ``OFFSET`` rows skipped."""
    sql = text(
        "SELECT a.id FROM articles a JOIN article_topics t ON t.article_id = a.id "
        "AND t.topic = :topic ORDER BY t.published_at DESC, a.id OFFSET :offset LIMIT :limit"
    )
    with engine.connect() as conn:
        rows = conn.execute(sql, {"topic": topic, "offset": offset, "limit": limit})
        return [str(r[0]) for r in rows]


Row = tuple[str, float, float, float | None, bool]


def series_rows(engine: Engine, client: httpx.Client, now: datetime, repeat: int) -> list[Row]:
    """(what, HTTP s, storage alone s, naive s, same answer) for each series asked."""
    rows: list[Row] = []
    for topic in ("market", "topic-07"):
        for span_name, span in (("a day", timedelta(days=1)), ("a week", timedelta(days=7))):
            for resolution in ("1min", "1h", "1d"):
                start, width = now - span, RESOLUTIONS[resolution]
                params = {
                    "key": topic,
                    "resolution": resolution,
                    "start": start.isoformat(),
                    "end": now.isoformat(),
                }
                t_http, body = timed(partial(fetch, client, "/v1/series", **params), repeat)
                t_call, _ = timed(partial(topic_series, engine, [topic], start, now, width), repeat)
                t_naive, naive = timed(
                    partial(naive_series, engine, [topic], start, now, width), repeat
                )
                same = series_counts(body) == point_counts(naive)
                what = f"series {topic}, {span_name} @ {resolution} ({len(body['points'])} points)"
                rows.append((what, t_http, t_call, t_naive, same))
                print(f"  {what}: http {1000 * t_http:.1f} ms, naive {1000 * t_naive:.1f} ms")
    return rows


def article_rows(engine: Engine, client: httpx.Client, repeat: int) -> list[Row]:
    rows: list[Row] = []
    for topic, limit in (("topic-07", 50), ("market", 100)):
        params = {"topic": topic, "limit": limit}
        t_http, body = timed(partial(fetch, client, "/v1/articles", **params), repeat)
        t_call, _ = timed(partial(latest_articles, engine, topic=topic, limit=limit + 1), repeat)
        what = f"articles, first page of {topic} ({limit})"
        rows.append((what, t_http, t_call, None, len(body["items"]) == limit))
        print(f"  {what}: http {1000 * t_http:.1f} ms")
    # a page DEEP articles in: by the cursor of the row before it, and by OFFSET
    before = latest_articles(engine, topic="market", limit=DEEP)[-1]
    cursor = encode_cursor(before.key)
    params = {"topic": "market", "limit": 50, "cursor": cursor}
    t_http, body = timed(partial(fetch, client, "/v1/articles", **params), repeat)
    t_call, _ = timed(
        partial(latest_articles, engine, topic="market", after=before.key, limit=51), repeat
    )
    t_naive, naive = timed(partial(offset_page, engine, "market", DEEP, 50), repeat)
    same = [a["id"] for a in body["items"]] == naive
    what = f"articles of market, the page {DEEP:,} deep (50): cursor vs OFFSET"
    rows.append((what, t_http, t_call, t_naive, same))
    print(f"  {what}: http {1000 * t_http:.1f} ms, offset {1000 * t_naive:.1f} ms")
    return rows


def ms(value: float | None) -> str:
    """Milliseconds, or a dash where there is nothing to time."""
    return "-" if value is None else f"{1000 * value:,.1f}"


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
        seed(engine, args.articles, now)
        seed_s = time.perf_counter() - start
        print(f"seeded in {seed_s:.0f} s\n\nmedian of {args.repeat} runs:")
        with serving(engine) as client:
            rows = series_rows(engine, client, now, args.repeat)
            rows += article_rows(engine, client, args.repeat)
        print("\n" + header())
        print(f"- articles: {args.articles:,}; seed: {seed_s:.0f} s; runs: {args.repeat}\n")
        columns = "API over HTTP (ms) | its storage call (ms) | naive (ms) | naive / storage"
        print(f"| request | {columns} | same answer |")
        print("|---|---:|---:|---:|---:|---|")
        for what, t_http, t_call, t_naive, same in rows:
            ratio = "-" if t_naive is None else f"{t_naive / t_call:,.1f}x"
            answer = "yes" if same else "NO"
            print(f"| {what} | {ms(t_http)} | {ms(t_call)} | {ms(t_naive)} | {ratio} | {answer} |")
        worst = max(t_http for _, t_http, _, _, _ in rows)
        print(
            f"\nslowest API answer: {1000 * worst:.1f} ms, against the dashboard's page budget "
            f"of {PAGE_BUDGET_S:.1f} s"
        )
    finally:
        drop()


if __name__ == "__main__":
    main()
