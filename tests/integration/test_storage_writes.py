"""save_scored_batch on the real PostgreSQL: idempotent, exact under concurrency."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import Engine, Numeric, func, select, text

from storage.articles import save_scored_batch, save_scored_batch_checked
from storage.exceptions import RejectedRecord
from storage.models import ArticleRow, ArticleSentimentRow, ArticleTopicRow, TopicBucketRow
from testkit.factories import article, random_articles

HERE = Path(__file__).resolve().parent


def snapshot(engine: Engine) -> dict[str, object]:
    """Everything a replay could change, in a comparable form."""
    with engine.connect() as conn:
        return {
            "articles": conn.execute(select(ArticleRow.id).order_by(ArticleRow.id)).scalars().all(),
            "sentiment": conn.execute(
                select(ArticleSentimentRow.article_id, ArticleSentimentRow.label).order_by(
                    ArticleSentimentRow.article_id
                )
            ).all(),
            "topics": conn.execute(
                select(ArticleTopicRow.article_id, ArticleTopicRow.topic).order_by(
                    ArticleTopicRow.article_id, ArticleTopicRow.topic
                )
            ).all(),
            "buckets": conn.execute(
                select(
                    TopicBucketRow.topic,
                    TopicBucketRow.width_s,
                    TopicBucketRow.bucket_start,
                    TopicBucketRow.n_negative,
                    TopicBucketRow.n_neutral,
                    TopicBucketRow.n_positive,
                    func.round(func.cast(TopicBucketRow.polarity_sum, Numeric), 9),
                ).order_by(
                    TopicBucketRow.topic, TopicBucketRow.width_s, TopicBucketRow.bucket_start
                )
            ).all(),
        }


def recount(engine: Engine) -> dict[tuple[str, int, object], tuple[int, int, int]]:
    """Bucket counts recomputed from the articles table, for every stored width: each
    topic's (``article_topics``) and each company's (``article_entities``, the series
    ``entity:<id>``)."""
    sql = text(
        """
        SELECT t.topic, w.width,
               to_timestamp(floor(extract(epoch FROM a.published_at) / w.width) * w.width),
               count(*) FILTER (WHERE s.label = 'negative'),
               count(*) FILTER (WHERE s.label = 'neutral'),
               count(*) FILTER (WHERE s.label = 'positive')
        FROM articles a
        JOIN article_sentiment s ON s.article_id = a.id
        JOIN (
            SELECT article_id, topic FROM article_topics
            UNION ALL
            SELECT article_id, 'entity:' || entity_id FROM article_entities
        ) AS t ON t.article_id = a.id
        CROSS JOIN (VALUES (60), (3600), (86400)) AS w(width)
        WHERE a.duplicate_of IS NULL
        GROUP BY 1, 2, 3
        """
    )
    with engine.connect() as conn:
        return {(r[0], r[1], r[2]): (r[3], r[4], r[5]) for r in conn.execute(sql)}


def stored_buckets(engine: Engine) -> dict[tuple[str, int, object], tuple[int, int, int]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                TopicBucketRow.topic,
                TopicBucketRow.width_s,
                TopicBucketRow.bucket_start,
                TopicBucketRow.n_negative,
                TopicBucketRow.n_neutral,
                TopicBucketRow.n_positive,
            )
        )
        return {(r[0], r[1], r[2]): (r[3], r[4], r[5]) for r in rows}


def test_new_articles_are_stored_with_sentiment_and_topics(db: Engine) -> None:
    items = [
        article(1, label="negative", topics=("market", "oil")),
        article(2, label="positive", topics=("market",)),
    ]
    assert sorted(save_scored_batch(db, items)) == sorted(i.id for i in items)
    snap = snapshot(db)
    assert len(snap["articles"]) == 2  # type: ignore[arg-type]
    assert sorted(snap["topics"]) == sorted(  # type: ignore[type-var]
        [(items[0].id, "market"), (items[0].id, "oil"), (items[1].id, "market")]
    )
    assert stored_buckets(db) == recount(db)


def test_the_same_batch_saved_twice_changes_nothing(db: Engine) -> None:
    items = random_articles(range(200))
    assert len(save_scored_batch(db, items)) == 200
    before = snapshot(db)
    assert save_scored_batch(db, items) == []
    assert save_scored_batch(db, list(reversed(items[50:150]))) == []
    assert snapshot(db) == before
    assert stored_buckets(db) == recount(db)


def test_a_partly_new_batch_counts_only_the_new_articles(db: Engine) -> None:
    save_scored_batch(db, random_articles(range(100)))
    new = save_scored_batch(db, random_articles(range(50, 160)))
    assert len(new) == 60
    assert stored_buckets(db) == recount(db)


def test_an_id_twice_in_one_batch_is_stored_once(db: Engine) -> None:
    one = article(5, label="negative")
    assert save_scored_batch(db, [one, one, one]) == [one.id]
    assert stored_buckets(db)[("market", 60, one.published_at.replace(second=0))] == (1, 0, 0)


def test_an_id_that_belongs_to_another_article_is_reported_not_silently_dropped(
    db: Engine,
) -> None:
    first = article(1, label="negative")
    assert save_scored_batch_checked(db, [first]).conflicts == []
    replayed = save_scored_batch_checked(db, [first])  # the same article again: no conflict
    assert (replayed.new, replayed.conflicts) == ([], [])
    other = replace(first, title="A different story under the same id")
    again = replace(first, title="Yet another story, same batch")
    saved = save_scored_batch_checked(db, [article(2), other, again])
    assert saved.new == [article(2).id]
    assert [position for position, _ in saved.conflicts] == [1, 2]
    assert all(first.id in why and "not stored" in why for _, why in saved.conflicts)
    assert "A different story" in saved.conflicts[0][1]
    with db.connect() as conn:
        title = conn.execute(select(ArticleRow.title).where(ArticleRow.id == first.id)).scalar_one()
    assert title == first.title  # the first report stays
    assert stored_buckets(db) == recount(db)


def test_duplicates_are_stored_but_not_counted(db: Engine) -> None:
    first = article(1, label="negative", topics=("market", "oil"))
    copy = article(2, label="negative", topics=("market", "oil"), duplicate_of=first.id)
    assert len(save_scored_batch(db, [first, copy])) == 2
    counts = stored_buckets(db)
    assert sum(n[0] for (topic, width, _), n in counts.items() if width == 60) == 2  # oil+market
    assert counts == recount(db)


def test_bucket_polarity_sum_adds_up(db: Engine) -> None:
    items = [
        article(n, topics=("oil",), label="negative", probs=(0.9, 0.05, 0.05)) for n in range(1, 4)
    ]
    save_scored_batch(db, items)
    with db.connect() as conn:
        total = conn.execute(
            select(TopicBucketRow.polarity_sum).where(
                TopicBucketRow.topic == "oil", TopicBucketRow.width_s == 3600
            )
        ).scalar_one()
    assert total == pytest.approx(3 * (0.05 - 0.9))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"label": "bullish"}, "label 'bullish'"),
        ({"p_negative": 1.5}, "p_negative=1.5"),
        ({"title": ""}, "empty title"),
    ],
)
def test_bad_records_are_rejected_by_name(
    db: Engine, change: dict[str, object], message: str
) -> None:
    from dataclasses import replace

    bad = replace(article(9), **change)  # type: ignore[arg-type]
    with pytest.raises(RejectedRecord, match=message):
        save_scored_batch(db, [article(1), bad])
    assert snapshot(db)["articles"] == []


def test_content_the_database_refuses_is_a_rejected_record(db: Engine) -> None:
    from dataclasses import replace

    too_long = replace(article(3), source="s" * 500)
    with pytest.raises(RejectedRecord, match="database refused"):
        save_scored_batch(db, [article(1), too_long])
    assert snapshot(db)["articles"] == []  # one transaction: nothing half-written


def test_two_processes_saving_overlapping_batches_give_exact_counts(
    db: Engine, pg_url: str, tmp_path: Path
) -> None:
    go = tmp_path / "go"
    ranges = [(0, 1200), (400, 1600), (800, 2000)]
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                str(HERE / "concurrent_writer.py"),
                pg_url,
                str(a),
                str(b),
                "50",
                str(go),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for a, b in ranges
    ]
    go.touch()
    inserted = 0
    for p in procs:
        out, err = p.communicate(timeout=240)
        assert p.returncode == 0, err
        inserted += int(out.strip())
    assert inserted == 2000  # each article inserted by exactly one writer
    assert stored_buckets(db) == recount(db)
    expected: Counter[str] = Counter()
    for item in random_articles(range(2000)):
        expected.update(set(item.topics))
    per_day: Counter[str] = Counter()
    for (topic, width, _), counts in stored_buckets(db).items():
        if width == 86400:
            per_day[topic] += sum(counts)
    assert per_day == expected
