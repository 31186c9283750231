"""Series and listing queries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine

from storage.alerts import list_alerts
from storage.articles import MAX_POINTS, latest_articles, save_scored_batch, topic_series
from storage.feeds import SourcePoll, record_source_poll, source_health
from storage.models import AlertRow
from testkit.factories import article

NEW_YORK_WINTER = timezone(timedelta(hours=-5))
TOKYO = timezone(timedelta(hours=9))
DAY = datetime(2026, 3, 2, tzinfo=UTC)


@pytest.fixture
def store(db: Engine) -> Engine:
    """An empty, migrated database."""
    return db


def at(hh: int, mm: int = 0, ss: int = 0, us: int = 0) -> datetime:
    return DAY.replace(hour=hh, minute=mm, second=ss, microsecond=us)


@pytest.fixture
def seeded(store: Engine) -> Engine:
    """Known articles around bucket edges:

    09:00:00.000 oil negative   (first instant of the 09:00 bucket)
    09:59:59.999 oil positive   (last instant of the 09:00 hour)
    10:00:00.000 oil negative   (first instant of the 10:00 hour)
    10:04:30     oil neutral, banks negative
    23:59:59     oil positive   (last second of the UTC day)
    next day 00:00:00 oil negative
    """
    items = [
        article(1, label="negative", published_at=at(9), topics=("oil",)),
        article(2, label="positive", published_at=at(9, 59, 59, 999_000), topics=("oil",)),
        article(3, label="negative", published_at=at(10), topics=("oil",)),
        article(4, label="neutral", published_at=at(10, 4, 30), topics=("oil", "banks")),
        article(5, label="negative", published_at=at(10, 4, 30), topics=("banks",)),
        article(6, label="positive", published_at=at(23, 59, 59), topics=("oil",)),
        article(7, label="negative", published_at=DAY + timedelta(days=1), topics=("oil",)),
    ]
    save_scored_batch(store, items)
    return store


def counts(points: list, topic: str = "oil") -> list[tuple[str, int, int, int]]:
    return [
        (p.bucket_start.strftime("%d %H:%M"), p.n_negative, p.n_neutral, p.n_positive)
        for p in points
        if p.topic == topic
    ]


def test_one_minute_series_is_zero_filled(seeded: Engine) -> None:
    points = topic_series(seeded, ["oil"], at(9, 58), at(10, 2), 60)
    assert counts(points) == [
        ("02 09:58", 0, 0, 0),
        ("02 09:59", 0, 0, 1),
        ("02 10:00", 1, 0, 0),
        ("02 10:01", 0, 0, 0),
    ]
    empty = points[0]
    assert empty.n == 0 and empty.mean_polarity is None and empty.negative_share is None


def test_five_minute_series_sums_minutes(seeded: Engine) -> None:
    points = topic_series(seeded, ["oil", "banks"], at(9, 55), at(10, 10), 300)
    assert counts(points) == [("02 09:55", 0, 0, 1), ("02 10:00", 1, 1, 0), ("02 10:05", 0, 0, 0)]
    assert counts(points, "banks") == [
        ("02 09:55", 0, 0, 0),
        ("02 10:00", 1, 1, 0),
        ("02 10:05", 0, 0, 0),
    ]
    assert [p.topic for p in points] == ["oil"] * 3 + ["banks"] * 3


def test_hourly_series_puts_edges_in_the_right_hour(seeded: Engine) -> None:
    points = topic_series(seeded, ["oil"], at(8), at(11), 3600)
    assert counts(points) == [("02 08:00", 0, 0, 0), ("02 09:00", 1, 0, 1), ("02 10:00", 1, 1, 0)]
    nine = points[1]
    assert nine.negative_share == pytest.approx(0.5)
    assert nine.mean_polarity == pytest.approx(((0.05 - 0.8) + (0.8 - 0.05)) / 2)


def test_daily_series_uses_utc_days(seeded: Engine) -> None:
    points = topic_series(seeded, ["oil"], DAY - timedelta(days=1), DAY + timedelta(days=2), 86400)
    assert counts(points) == [("01 00:00", 0, 0, 0), ("02 00:00", 2, 1, 2), ("03 00:00", 1, 0, 0)]


def test_the_same_instant_in_another_zone_gives_the_same_series(seeded: Engine) -> None:
    utc = topic_series(seeded, ["oil"], at(9), at(11), 3600)
    ny = topic_series(
        seeded, ["oil"], at(9).astimezone(NEW_YORK_WINTER), at(11).astimezone(TOKYO), 3600
    )
    assert utc == ny
    assert all(p.bucket_start.tzinfo is UTC for p in ny)


def test_a_range_starting_mid_bucket_includes_that_bucket(seeded: Engine) -> None:
    points = topic_series(seeded, ["oil"], at(9, 30), at(10, 30), 3600)
    assert counts(points) == [("02 09:00", 1, 0, 1), ("02 10:00", 1, 1, 0)]


def test_series_validation(seeded: Engine) -> None:
    with pytest.raises(ValueError, match="no time zone"):
        topic_series(seeded, ["oil"], datetime(2026, 3, 2), at(10), 60)  # noqa: DTZ001
    with pytest.raises(ValueError, match="not a multiple"):
        topic_series(seeded, ["oil"], at(9), at(10), 90)
    with pytest.raises(ValueError, match=f"at most {MAX_POINTS}"):
        topic_series(seeded, ["oil"], at(0), at(0) + timedelta(days=60), 60)
    assert topic_series(seeded, [], at(9), at(10), 60) == []


def test_unknown_topic_is_all_zeros(seeded: Engine) -> None:
    points = topic_series(seeded, ["gold"], at(9), at(12), 3600)
    assert [p.n for p in points] == [0, 0, 0]


def test_latest_articles_newest_first_with_sentiment(seeded: Engine) -> None:
    rows = latest_articles(seeded, limit=3)
    assert [r.title for r in rows[:2]] == ["Headline number 7", "Headline number 6"]
    assert rows[2].title in ("Headline number 4", "Headline number 5")  # same instant
    assert rows[0].label == "negative" and rows[0].confidence == pytest.approx(0.8)
    assert rows[0].published_at.tzinfo is UTC


def test_latest_articles_filters(seeded: Engine) -> None:
    by_topic = latest_articles(seeded, topic="banks")
    assert {r.title for r in by_topic} == {"Headline number 4", "Headline number 5"}
    assert by_topic[0].topics in (("banks",), ("banks", "oil"))
    assert [r.title for r in latest_articles(seeded, topic="oil", label="neutral")] == [
        "Headline number 4"
    ]
    assert {r.title for r in latest_articles(seeded, text="NUMBER 7")} == {"Headline number 7"}
    assert latest_articles(seeded, text="100%") == []
    assert len(latest_articles(seeded, since=at(10), until=at(23))) == 3
    assert latest_articles(seeded, source="nobody") == []
    assert latest_articles(seeded, limit=0) == []


def test_latest_articles_can_hide_duplicates(store: Engine) -> None:
    first = article(1, topics=("oil",))
    save_scored_batch(store, [first, article(2, topics=("oil",), duplicate_of=first.id)])
    assert len(latest_articles(store)) == 2
    assert [r.id for r in latest_articles(store, include_duplicates=False)] == [first.id]


def test_text_search_is_literal(store: Engine) -> None:
    save_scored_batch(
        store, [article(1, title="Stocks up 5% on_day"), article(2, title="Stocks up")]
    )
    assert [r.title for r in latest_articles(store, text="5% on_")] == ["Stocks up 5% on_day"]


def test_alerts_by_status_and_time(store: Engine) -> None:
    from sqlalchemy.orm import Session

    with Session(store) as s, s.begin():
        for i, (status, start) in enumerate(
            [("firing", at(10)), ("resolved", at(8)), ("firing", at(12))]
        ):
            s.add(
                AlertRow(
                    id=f"a{i}",
                    fingerprint=f"neg:{i}",
                    rule="negative_surge",
                    topic="oil",
                    status=status,
                    starts_at=start,
                    ends_at=None,
                    updated_at=start,
                    value=0.5,
                    baseline=0.1,
                    threshold=0.3,
                    details={"n": i},
                )
            )
    assert [a.id for a in list_alerts(store)] == ["a2", "a0", "a1"]
    assert [a.id for a in list_alerts(store, status="firing")] == ["a2", "a0"]
    assert [a.id for a in list_alerts(store, since=at(9), until=at(11))] == ["a0"]
    assert list_alerts(store, status="resolved")[0].details == {"n": 1}


def test_source_health_accumulates_polls(store: Engine) -> None:
    record_source_poll(
        store,
        SourcePoll(
            feed="reuters",
            fetched_at=at(9),
            ok=True,
            url="https://r.example/feed",
            http_status=200,
            items_seen=10,
            items_new=7,
            items_duplicate=1,
        ),
    )
    record_source_poll(
        store,
        SourcePoll(feed="reuters", fetched_at=at(10), ok=False, http_status=500, error="HTTP 500"),
    )
    record_source_poll(
        store, SourcePoll(feed="reuters", fetched_at=at(11), ok=False, error="timeout")
    )
    (health,) = source_health(store)
    assert health.last_success_at == at(9)
    assert health.last_fetch_at == at(11)
    assert health.consecutive_failures == 2
    assert health.last_error == "timeout"
    assert (health.items_seen, health.items_new, health.items_duplicate) == (10, 7, 1)
    assert health.url == "https://r.example/feed"
    record_source_poll(
        store, SourcePoll(feed="reuters", fetched_at=at(12), ok=True, http_status=304)
    )
    (health,) = source_health(store)
    assert (health.consecutive_failures, health.last_error, health.last_status) == (0, None, 304)


def test_the_language_filter_of_series_feed_and_headlines(store: Engine) -> None:
    """Issue 26, item 2: ``lang`` is a filter on the dashboard (live feed, Topic page)
    and in the series; without it, everything, as before."""
    from dataclasses import replace

    from storage.articles import filtered_series, headlines_between, languages

    t0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    english = [article(n, label="negative", published_at=t0 + timedelta(minutes=n)) for n in (1, 2)]
    chinese = [
        replace(article(n, label="positive", published_at=t0 + timedelta(minutes=n)), lang="zh")
        for n in (3, 4, 5)
    ]
    save_scored_batch(store, english + chinese)
    end = t0 + timedelta(hours=1)

    def counts(lang: str | None) -> tuple[int, int]:
        (point,) = filtered_series(store, "market", t0, end, 3600, lang=lang)
        return point.n_negative, point.n_positive

    assert counts(None) == (2, 3)
    assert counts("zh") == (0, 3) and counts("en") == (2, 0) and counts("ja") == (0, 0)
    (bucketed,) = topic_series(store, ["market"], t0, end, 3600)
    assert (bucketed.n_negative, bucketed.n_positive) == counts(None)  # the buckets agree
    assert languages(store) == ["en", "zh"]
    assert {a.id for a in latest_articles(store, lang="zh")} == {a.id for a in chinese}
    found = headlines_between(store, "market", t0, end, lang="en")
    assert {h.id for h in found.most_negative} == {a.id for a in english}
