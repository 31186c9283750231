"""The dashboard's reads (storage/articles.py, alerts.py, workers.py) on PostgreSQL, with
known data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from storage import alerts as alert_store
from storage import articles as article_store
from storage import workers as worker_store
from storage.articles import save_scored_batch
from testkit.factories import article
from tests.dashboard_seed import BANKS_ALERT, OIL_ALERT, seed


def test_an_empty_database_gives_empty_answers(db: Engine) -> None:
    now = datetime.now(UTC)
    assert article_store.schema_ready(db)
    assert not article_store.has_articles(db)
    mood = article_store.market_mood(db, now)
    assert mood.last_hour.n == 0 and mood.last_hour.mean_polarity is None
    assert mood.polarity_change is None
    assert article_store.topic_summaries(db, now) == []
    assert article_store.topic_names(db) == [] and article_store.source_names(db) == []
    assert article_store.models_in_use(db) == []
    assert article_store.freshness(db).newest_published_at is None
    assert alert_store.receiver_summaries(db) == []


def test_names_walk_their_indexes(db: Engine) -> None:
    seed(db, datetime.now(UTC))
    assert article_store.topic_names(db) == ["banks", "market", "oil"]
    assert article_store.source_names(db) == ["syndicate-x", "wire-a", "wire-b", "wire-c"]


def test_headlines_behind_a_point_exclude_copies_and_order_by_polarity(db: Engine) -> None:
    t0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    items = [
        article(
            1,
            label="negative",
            published_at=t0 + timedelta(minutes=1),
            topics=("oil",),
            probs=(0.9, 0.05, 0.05),
        ),
        article(
            2,
            label="negative",
            published_at=t0 + timedelta(minutes=2),
            topics=("oil",),
            probs=(0.6, 0.3, 0.1),
        ),
        article(3, label="positive", published_at=t0 + timedelta(minutes=3), topics=("oil",)),
        article(
            4,
            label="negative",
            published_at=t0 + timedelta(minutes=4),
            topics=("oil",),
            probs=(0.99, 0.01, 0.0),
            duplicate_of="x",
        ),
        article(5, label="negative", published_at=t0 + timedelta(hours=1), topics=("oil",)),
        article(6, label="negative", published_at=t0 + timedelta(minutes=5), topics=("gas",)),
    ]
    save_scored_batch(db, items)
    found = article_store.headlines_between(db, "oil", t0, t0 + timedelta(hours=1), limit=2)
    assert [a.title for a in found.most_negative] == ["Headline number 1", "Headline number 2"]
    assert [a.title for a in found.most_positive] == ["Headline number 3", "Headline number 2"]
    assert found.most_negative[0].topics == ("oil",)


def test_alerts_overlapping_a_range(db: Engine) -> None:
    now = datetime.now(UTC)
    seed(db, now)
    assert [
        a.id
        for a in alert_store.alerts_overlapping(db, ["oil", "banks"], now - timedelta(days=3), now)
    ] == [
        BANKS_ALERT,
        OIL_ALERT,
    ]
    assert [
        a.id
        for a in alert_store.alerts_overlapping(db, ["oil", "banks"], now - timedelta(days=1), now)
    ] == [OIL_ALERT]
    assert alert_store.alerts_overlapping(db, ["banks"], now - timedelta(days=1), now) == []
    assert alert_store.alerts_overlapping(db, [], now - timedelta(days=3), now) == []


def test_deliveries_models_counters_and_freshness(db: Engine) -> None:
    now = datetime.now(UTC)
    seed(db, now)
    receivers = {r.receiver: r for r in alert_store.receiver_summaries(db)}
    assert (receivers["ops-hook"].delivered, receivers["ops-hook"].last_error) == (1, None)
    assert (receivers["chat"].failed, receivers["chat"].last_error) == (
        1,
        "HTTP 500 from chat.example",
    )
    deliveries = alert_store.deliveries_since(db, now - timedelta(hours=1))
    assert len(deliveries) == 2
    matched = alert_store.match_deliveries(
        alert_store.alerts_overlapping(db, ["oil"], now - timedelta(hours=1), now), deliveries
    )
    assert len(matched[OIL_ALERT]) == 2
    [model] = article_store.models_in_use(db)
    assert (model.name, model.revision, model.articles) == ("test-model", "r1", 12)
    fresh = article_store.freshness(db)
    assert fresh.sample == 12
    assert fresh.newest_published_at is not None
    assert fresh.newest_published_at > now - timedelta(minutes=9)
    assert {(c.agent, c.processed) for c in worker_store.worker_counters(db)} == {
        ("classify", 1000),
        ("persist", 998),
    }
