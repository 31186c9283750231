"""Storage write throughput: batched ``save_scored_batch`` against one ORM row at a time.

Both paths write the same scored items (articles, sentiment, topics and the per-topic
buckets at every stored width) into a fresh PostgreSQL database created for the run,
and are timed side by side in one run. The per-row path is the naive way an ORM user
writes it: per item, look the article up, add it with its children, look each bucket
up and increment it, commit.

    python bench/storage.py                      # 100,000 batched, 2,000 per-row
    python bench/storage.py --items 20000 --rows 2000 --repeat 1
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.database import fresh_database, server
from bench.machine import header
from storage.articles import ScoredArticle, save_scored_batch
from storage.buckets import STORED_WIDTHS, floor_time
from storage.db import describe
from storage.models import ArticleRow, ArticleSentimentRow, ArticleTopicRow, Base, TopicBucketRow
from testkit.factories import random_articles


def truncate(engine: Engine) -> None:
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


def batched(engine: Engine, items: Sequence[ScoredArticle], batch: int) -> float:
    start = time.perf_counter()
    for i in tqdm(range(0, len(items), batch), desc="batched", unit="batch", leave=False):
        save_scored_batch(engine, items[i : i + batch])
    return time.perf_counter() - start


def per_row_orm(engine: Engine, items: Sequence[ScoredArticle]) -> float:
    """The naive way: one item, one ORM unit of work, one commit."""
    start = time.perf_counter()
    with Session(engine) as session:
        for item in tqdm(items, desc="per-row ORM", unit="item", leave=False):
            if session.get(ArticleRow, item.id) is not None:
                continue
            session.add(
                ArticleRow(
                    id=item.id,
                    source=item.source,
                    url=item.url,
                    title=item.title,
                    body=item.body,
                    published_at=item.published_at,
                    fetched_at=item.fetched_at,
                    lang=item.lang,
                    tickers=list(item.tickers),
                    duplicate_of=item.duplicate_of,
                    sentiment=ArticleSentimentRow(
                        label=item.label,
                        p_negative=item.p_negative,
                        p_neutral=item.p_neutral,
                        p_positive=item.p_positive,
                        polarity=item.polarity,
                        model_name=item.model_name,
                        model_revision=item.model_revision,
                        scored_at=item.scored_at,
                    ),
                    topics=[
                        ArticleTopicRow(topic=t, published_at=item.published_at)
                        for t in sorted(set(item.topics))
                    ],
                )
            )
            for topic in sorted(set(item.topics)):
                for width in STORED_WIDTHS:
                    key = (topic, width, floor_time(item.published_at, width))
                    row = session.get(TopicBucketRow, key)
                    if row is None:
                        row = TopicBucketRow(
                            topic=topic,
                            width_s=width,
                            bucket_start=key[2],
                            n_negative=0,
                            n_neutral=0,
                            n_positive=0,
                            polarity_sum=0.0,
                        )
                        session.add(row)
                    setattr(row, f"n_{item.label}", getattr(row, f"n_{item.label}") + 1)
                    row.polarity_sum += item.polarity
            session.commit()
    return time.perf_counter() - start


def bucket_total(engine: Engine) -> int:
    with engine.connect() as conn:
        total = conn.execute(
            select(
                func.sum(
                    TopicBucketRow.n_negative + TopicBucketRow.n_neutral + TopicBucketRow.n_positive
                )
            ).where(TopicBucketRow.width_s == 86400)
        ).scalar()
    return int(total or 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000, help="items for the batched path")
    parser.add_argument("--rows", type=int, default=2_000, help="items for the per-row path")
    parser.add_argument("--batch", type=int, default=500, help="items per save_scored_batch")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each path (median)")
    args = parser.parse_args()

    items = random_articles(range(args.items))
    sample = items[: args.rows]
    expected = sum(len(set(i.topics)) for i in items)
    engine, drop = fresh_database()
    try:
        fast, slow, replay = [], [], []
        for _ in range(args.repeat):
            truncate(engine)
            fast.append(args.items / batched(engine, items, args.batch))
            assert bucket_total(engine) == expected, "batched path lost or double-counted"
            replay.append(args.items / batched(engine, items, args.batch))
            assert bucket_total(engine) == expected, "replay changed the counts"
            truncate(engine)
            slow.append(args.rows / per_row_orm(engine, sample))
    finally:
        drop()

    f, s, r = (statistics.median(x) for x in (fast, slow, replay))
    print(header())
    print(f"- database: PostgreSQL ({describe(server())}), fresh database per run")
    print(f"- repeats: {args.repeat} (median shown); batch size {args.batch}\n")
    print("| path | items | items/s (median) | runs | ratio |")
    print("|---|---:|---:|---|---:|")
    print(
        f"| per-row ORM (naive) | {args.rows:,} | {s:,.0f} | "
        f"{', '.join(f'{x:,.0f}' for x in slow)} | 1.0x |"
    )
    print(
        f"| save_scored_batch | {args.items:,} | {f:,.0f} | "
        f"{', '.join(f'{x:,.0f}' for x in fast)} | {f / s:.1f}x |"
    )
    print(
        f"| save_scored_batch, replay (all already stored) | {args.items:,} | {r:,.0f} | "
        f"{', '.join(f'{x:,.0f}' for x in replay)} | {r / s:.1f}x |"
    )


if __name__ == "__main__":
    main()
