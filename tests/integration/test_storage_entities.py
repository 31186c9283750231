"""Companies per article on the real PostgreSQL: relevance and novelty stored per
(article, company), a company's buckets kept like a topic's, its series filtered by
relevance and novelty."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, select

from core.titles import SimilarTitles
from storage.articles import (
    EntityMention,
    ScoredArticle,
    entity_names,
    filtered_series,
    headlines_between,
    save_scored_batch,
    topic_series,
    topic_summaries,
)
from storage.models import ArticleEntityRow
from testkit.factories import article

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def about(n: int, title: str, *entities: tuple[str, int], **kwargs: object) -> ScoredArticle:
    """Article ``n`` with ``title``, naming ``entities`` (id, relevance)."""
    kwargs.setdefault("published_at", T0 + timedelta(minutes=n))
    return replace(
        article(n, title=title, **kwargs),  # type: ignore[arg-type]
        entities=tuple(EntityMention(e, r) for e, r in entities),
    )


def stored(engine: Engine) -> dict[tuple[str, str], tuple[int, bool]]:
    """(title number, entity) -> (relevance, novel), by the article's title."""
    rows = select(
        ArticleEntityRow.article_id,
        ArticleEntityRow.entity_id,
        ArticleEntityRow.relevance,
        ArticleEntityRow.novel,
    )
    with engine.connect() as conn:
        return {(a, e): (r, n) for a, e, r, n in conn.execute(rows)}


def test_relevance_and_novelty_are_stored_per_article_and_company(db: Engine) -> None:
    first = about(1, "Apple cuts iPhone orders as demand slows", ("AAPL", 95), ("2317.TW", 70))
    again = about(2, "Apple cuts iPhone orders as demand slows - Reuters", ("AAPL", 95))
    other = about(3, "Apple opens a new store in Mumbai", ("AAPL", 95))
    copy = about(4, "Apple cuts orders", ("AAPL", 95), duplicate_of=first.id)
    foxconn = about(5, "Apple cuts iPhone orders as demand slows", ("2317.TW", 95))
    save_scored_batch(db, [first, again, other, copy])
    save_scored_batch(db, [foxconn])
    assert stored(db) == {
        (first.id, "AAPL"): (95, True),
        (first.id, "2317.TW"): (70, True),
        (again.id, "AAPL"): (95, False),  # the same story about Apple, reworded
        (other.id, "AAPL"): (95, True),
        (copy.id, "AAPL"): (95, False),  # a syndicated copy is never news
        (foxconn.id, "2317.TW"): (95, False),  # stored before, in another batch
    }


def test_a_similar_story_is_news_again_after_the_window(db: Engine) -> None:
    title = "Tesla recalls Model Y over seat belts"
    save_scored_batch(db, [about(1, title, ("TSLA", 95))])
    later = about(2, title + " again", ("TSLA", 95), published_at=T0 + timedelta(hours=25))
    earlier = about(3, title + " too", ("TSLA", 95), published_at=T0 - timedelta(hours=2))
    save_scored_batch(db, [later, earlier])
    assert stored(db)[(later.id, "TSLA")] == (95, True)
    assert stored(db)[(earlier.id, "TSLA")] == (95, False)  # the first one stored has the news


def test_a_busy_company_gets_the_same_flags_through_the_index(db: Engine) -> None:
    """A batch with more new titles about one company than ``SimilarTitles.INDEX_FROM``
    (a backlog, a day of earnings) is checked through the index: stored stories found,
    the batch's own rewordings found, different stories news."""
    stories = [
        "Apple beats quarterly revenue estimates on services growth",
        "EU fines Apple over App Store steering rules",
        "Apple recalls some AirPods chargers in Europe",
        "Apple shares slide as iPhone sales in China weaken",
        "Apple to open its first store in Riyadh next spring",
        "Analysts lift Apple price target ahead of WWDC",
        "Apple supplier Foxconn warns of a slower holiday quarter",
        "Apple settles a patent dispute with Masimo",
        "Apple names a new chief financial officer",
        "Apple expands its buyback by 90 billion dollars",
        "Apple delays the launch of its smart home display",
        "Apple's Vision Pro headset goes on sale in Korea",
        "US regulators open a probe into Apple Pay fees",
        "Apple cuts prices of the Mac mini in India",
        "Apple wins approval to make chips in Arizona",
        "Apple faces a class action over iCloud storage",
        "Warren Buffett trims Berkshire's stake in Apple again",
        "Apple launches a cheaper iPad for schools",
        "Apple signs a solar power deal in Texas",
        "Apple's car project is cancelled, report says",
        "Apple Music raises student subscription prices",
        "Apple pays a record dividend to shareholders",
    ]
    assert len(stories) > SimilarTitles.INDEX_FROM
    save_scored_batch(db, [about(0, stories[0], ("AAPL", 95))])
    batch = [about(n + 1, title, ("AAPL", 95)) for n, title in enumerate(stories)]
    reworded = about(100, stories[5].replace("lift", "raise"), ("AAPL", 95))
    save_scored_batch(db, [*batch, reworded])
    flags = {a: novel for (a, _), (_, novel) in stored(db).items()}
    assert flags[batch[0].id] is False  # the stored story again
    assert all(flags[a.id] for a in batch[1:])
    assert flags[reworded.id] is False  # a rewording of one in the same batch


def test_company_buckets_count_first_reports_once(db: Engine) -> None:
    a = about(1, "Apple cuts iPhone orders", ("AAPL", 95), label="negative")
    b = about(2, "Supplier shares fall", ("AAPL", 25), label="negative")
    c = about(3, "Apple opens a store", ("AAPL", 95), label="positive")
    copy = about(4, "Apple cuts orders", ("AAPL", 95), duplicate_of=a.id)
    batch = [a, b, c, copy]
    assert len(save_scored_batch(db, batch)) == 4
    assert save_scored_batch(db, batch) == []  # a replay changes nothing
    end = T0 + timedelta(hours=1)
    (point,) = topic_series(db, ["entity:AAPL"], T0, end, 3600)
    assert (point.n_negative, point.n_neutral, point.n_positive) == (2, 0, 1)
    assert filtered_series(db, "entity:AAPL", T0, end, 3600) == [point]


def test_a_company_series_filters_by_relevance_and_novelty(db: Engine) -> None:
    save_scored_batch(
        db,
        [
            about(1, "Apple cuts iPhone orders", ("AAPL", 95), label="negative"),
            about(2, "Apple cuts iPhone orders, sources say", ("AAPL", 95), label="negative"),
            about(3, "Chip suppliers slide", ("AAPL", 25), label="negative"),
            about(64, "Apple opens a store in Mumbai", ("AAPL", 70), label="positive"),
        ],
    )
    end = T0 + timedelta(hours=2)

    def counts(**filters: object) -> list[tuple[int, int]]:
        points = filtered_series(db, "entity:AAPL", T0, end, 3600, **filters)  # type: ignore[arg-type]
        assert all(p.topic == "entity:AAPL" for p in points)
        return [(p.n, p.n_negative) for p in points]

    assert counts() == [(3, 3), (1, 0)]
    assert counts(min_relevance=50) == [(2, 2), (1, 0)]
    assert counts(novel_only=True) == [(2, 2), (1, 0)]
    assert counts(min_relevance=90, novel_only=True) == [(1, 1), (0, 0)]
    headlines = headlines_between(db, "entity:AAPL", T0, end, min_relevance=50, novel_only=True)
    assert [h.title for h in headlines.most_negative] == [
        "Apple cuts iPhone orders",
        "Apple opens a store in Mumbai",
    ]
    assert entity_names(db) == ["AAPL"]


def test_companies_are_not_topics_on_the_overview(db: Engine) -> None:
    save_scored_batch(db, [about(1, "Apple cuts iPhone orders", ("AAPL", 95))])
    summaries = topic_summaries(db, T0 + timedelta(hours=1))
    assert [s.topic for s in summaries] == ["market"]
