"""Articles, their sentiment and topics, and the per-topic time buckets: the writes
(``save_scored_batch``), the reads behind the dashboard, the alert rules and the CLI,
and the plain data they take and return. No sessions or ORM objects leave this module.

Writes are one transaction each and idempotent. Every read is bounded by an index:
series and topic summaries read ``topic_buckets`` (never raw article rows), headline
lists are range scans of ``(topic, published_at)`` or ``published_at``, and the
distinct topic and source lists walk their indexes one key at a time (a "skip scan")
instead of reading every row.
"""

from __future__ import annotations

import logging
import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar, TypeVarTuple

from sqlalchemy import Connection, Engine, Select, and_, case, func, inspect, or_, select, text
from sqlalchemy.exc import DataError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.orm import Session

from core.errors import first_line
from core.titles import SimilarTitles, normalise_title, title_shingles
from storage.buckets import (
    ENTITY_PREFIX,
    STORED_WIDTHS,
    bucket_increments,
    entity_key,
    floor_time,
    grid,
    key_entity,
    require_aware,
    source_width,
)
from storage.bulk import insert_many
from storage.exceptions import DatabaseUnavailable, RejectedRecord
from storage.models import (
    LABELS,
    AlertRow,
    ArticleEntityRow,
    ArticleRow,
    ArticleSentimentRow,
    ArticleTopicRow,
    TopicBucketRow,
)

log = logging.getLogger(__name__)
T = TypeVar("T")
Ts = TypeVarTuple("Ts")

#: SQLSTATEs after which the whole transaction may simply be run again.
RETRYABLE_SQLSTATES = {"40001", "40P01"}  # serialization failure, deadlock detected

#: At most this many points per topic in one series query.
MAX_POINTS = 50_000

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)

#: An article is news about a company it names (``novel``) unless a story about the
#: same company whose title is at least this similar (Jaccard similarity of the titles'
#: shingles, ``core.titles``) was stored before it, published within ``NOVELTY_WINDOW``
#: of it. Looser than the feeds' near-duplicate threshold (0.6): a follow-up that
#: rewords a story is not news either.
NOVELTY_SIMILARITY = 0.5
NOVELTY_WINDOW = timedelta(hours=24)
#: The first key of the advisory locks that serialise the novelty check per company.
ENTITY_LOCK_SPACE = "finsent.article_entities"


# --- plain data in and out -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EntityMention:
    """A registry company an article names, and its relevance (0-100) to the article."""

    entity_id: str
    relevance: int


@dataclass(frozen=True, slots=True)
class ScoredArticle:
    """A news item with its sentiment and topics, ready to store (a ScoredItem)."""

    id: str
    source: str
    title: str
    published_at: datetime
    fetched_at: datetime
    label: str
    p_negative: float
    p_neutral: float
    p_positive: float
    model_name: str
    model_revision: str
    scored_at: datetime
    url: str | None = None
    body: str | None = None
    lang: str | None = None
    topics: tuple[str, ...] = ()
    tickers: tuple[str, ...] = ()
    entities: tuple[EntityMention, ...] = ()
    duplicate_of: str | None = None

    @property
    def polarity(self) -> float:
        return self.p_positive - self.p_negative

    @property
    def series(self) -> tuple[str, ...]:
        """The series it counts in: its topics and its companies (``entity:<id>``)."""
        return (*self.topics, *(entity_key(e.entity_id) for e in self.entities))


@dataclass(frozen=True, slots=True)
class SavedBatch:
    """What storing a batch did: the ids newly stored, and the records refused because
    their id is already another article's: (position in the batch, why)."""

    new: list[str]
    conflicts: list[tuple[int, str]] = field(default_factory=list)


class _Counts(Protocol):
    @property
    def n(self) -> int: ...

    @property
    def n_negative(self) -> int: ...

    @property
    def polarity_sum(self) -> float: ...


class Tally:
    """Mean polarity and negative share of anything that counts scored articles (``n``,
    ``n_negative``, ``polarity_sum``); None for an empty count."""

    __slots__ = ()

    @property
    def mean_polarity(self: _Counts) -> float | None:
        return self.polarity_sum / self.n if self.n else None

    @property
    def negative_share(self: _Counts) -> float | None:
        return self.n_negative / self.n if self.n else None


@dataclass(frozen=True, slots=True)
class SeriesPoint(Tally):
    """One topic over one time bucket. Empty buckets have zero counts and no means."""

    topic: str
    bucket_start: datetime
    n_negative: int
    n_neutral: int
    n_positive: int
    polarity_sum: float

    @property
    def n(self) -> int:
        return self.n_negative + self.n_neutral + self.n_positive


#: An article's place in the newest-first order of ``latest_articles``: (published_at, id).
ArticleKey = tuple[datetime, str]


@dataclass(frozen=True, slots=True)
class ArticleView:
    """An article as a reader sees it: text, sentiment, topics."""

    id: str
    source: str
    url: str | None
    title: str
    published_at: datetime
    label: str | None
    p_negative: float | None
    p_neutral: float | None
    p_positive: float | None
    polarity: float | None
    model_name: str | None
    topics: tuple[str, ...]
    tickers: tuple[str, ...]
    duplicate_of: str | None

    @property
    def confidence(self) -> float | None:
        probs = (self.p_negative, self.p_neutral, self.p_positive)
        return max(p for p in probs if p is not None) if self.label else None

    @property
    def key(self) -> ArticleKey:
        """Where this article stands in ``latest_articles``' order (a page's ``after``)."""
        return (self.published_at, self.id)


@dataclass(frozen=True, slots=True)
class Aggregate(Tally):
    """Counts of scored articles over some window."""

    n: int = 0
    n_negative: int = 0
    polarity_sum: float = 0.0


@dataclass(frozen=True, slots=True)
class Mood:
    """The market's mood: the last hour against the 24 hours before it."""

    now: datetime
    last_hour: Aggregate
    previous_day: Aggregate

    @property
    def polarity_change(self) -> float | None:
        last, prev = self.last_hour.mean_polarity, self.previous_day.mean_polarity
        return None if last is None or prev is None else last - prev

    @property
    def negative_share_change(self) -> float | None:
        last, prev = self.last_hour.negative_share, self.previous_day.negative_share
        return None if last is None or prev is None else last - prev


@dataclass(frozen=True, slots=True)
class TopicSummary:
    """One topic over the overview window: totals, hourly points, firing alerts."""

    topic: str
    total: Aggregate
    points: tuple[SeriesPoint, ...]
    firing_alerts: int = 0


@dataclass(frozen=True, slots=True)
class Headlines:
    """The articles behind one point of a series: most negative and most positive first."""

    most_negative: tuple[ArticleView, ...]
    most_positive: tuple[ArticleView, ...]


@dataclass(frozen=True, slots=True)
class ModelUse:
    """A model (name, revision) among the most recently scored articles."""

    name: str
    revision: str
    articles: int
    last_scored_at: datetime


@dataclass(frozen=True, slots=True)
class Freshness:
    """How recent the stored data is, from the newest articles."""

    newest_published_at: datetime | None
    newest_stored_at: datetime | None
    median_delay_s: float | None  # fetched -> stored, over the sample
    sample: int


# --- writes ----------------------------------------------------------------------------


def check_article(item: ScoredArticle) -> None:
    """Refuse what the schema would refuse, naming the item and the field."""
    if item.label not in LABELS:
        raise RejectedRecord(f"item {item.id!r}: label {item.label!r} is not one of {LABELS}")
    for name in ("p_negative", "p_neutral", "p_positive"):
        p = getattr(item, name)
        if not 0.0 <= p <= 1.0:
            raise RejectedRecord(f"item {item.id!r}: {name}={p!r} is not a probability")
    if not item.id:
        raise RejectedRecord("item with an empty id")
    if not item.title:
        raise RejectedRecord(f"item {item.id!r}: empty title")
    for e in item.entities:
        if not 0 <= e.relevance <= 100:
            raise RejectedRecord(
                f"item {item.id!r}: relevance {e.relevance!r} of {e.entity_id!r} is not 0-100"
            )


def save_scored_batch(
    engine: Engine, items: Sequence[ScoredArticle], *, max_attempts: int = 5
) -> list[str]:
    """Store scored articles in one transaction; return the ids that were new.

    Articles, sentiment, topics and companies are inserted with ``ON CONFLICT DO
    NOTHING``; bucket counters (per topic and per company) are incremented only for
    articles that this transaction newly inserted and that are not duplicates of an
    earlier report. Replaying a batch, or two writers with
    overlapping batches, therefore leaves exact counts. Rows are written in key order so
    concurrent writers take locks in the same order; a deadlock or serialization failure
    re-runs the transaction.
    """
    return save_scored_batch_checked(engine, items, max_attempts=max_attempts).new


def save_scored_batch_checked(
    engine: Engine, items: Sequence[ScoredArticle], *, max_attempts: int = 5
) -> SavedBatch:
    """``save_scored_batch``, and which records were not stored because their id already
    belongs to an article with another title (stored before, or earlier in the batch):
    an id collision, which a replay of the same article (same title) is not."""
    unique: dict[str, tuple[int, ScoredArticle]] = {}
    conflicts: list[tuple[int, str]] = []
    for position, item in enumerate(items):
        check_article(item)
        first = unique.setdefault(item.id, (position, item))[1]
        if first.title != item.title:
            conflicts.append((position, _collision(item, first.title)))
    if not unique:
        return SavedBatch([], conflicts)
    ordered = [unique[key][1] for key in sorted(unique)]

    def work(conn: Connection) -> tuple[list[str], dict[str, str]]:
        new = _save(conn, ordered)
        seen = set(new)
        return new, _stored_titles(conn, [i.id for i in ordered if i.id not in seen])

    new, stored = _in_transaction(engine, work, max_attempts)
    for item_id, title in stored.items():
        position, item = unique[item_id]
        if title != item.title:
            conflicts.append((position, _collision(item, title)))
    return SavedBatch(new, sorted(conflicts))


def _collision(item: ScoredArticle, other_title: str) -> str:
    return (
        f"id {item.id!r} already belongs to another article ({other_title[:80]!r}); this one "
        f"({item.title[:80]!r}) is not stored: give each article an id of its own"
    )


def _stored_titles(conn: Connection, ids: list[str]) -> dict[str, str]:
    """The stored title of each of ``ids`` that is stored."""
    if not ids:
        return {}
    rows = conn.execute(select(ArticleRow.id, ArticleRow.title).where(ArticleRow.id.in_(ids)))
    return {row[0]: row[1] for row in rows}


def _in_transaction(engine: Engine, work: Callable[[Connection], T], max_attempts: int) -> T:
    """``work`` in one transaction, re-run after a deadlock or serialization failure;
    the database's refusals and outages become ``RejectedRecord``/``DatabaseUnavailable``."""
    for attempt in range(1, max_attempts + 1):
        try:
            with engine.begin() as conn:
                return work(conn)
        except (IntegrityError, DataError) as e:
            raise RejectedRecord(f"database refused the batch: {first_line(e)}") from e
        except OperationalError as e:
            if _sqlstate(e) in RETRYABLE_SQLSTATES and attempt < max_attempts:
                log.info("saving a batch: %s, retrying (%d)", first_line(e), attempt)
                continue
            raise DatabaseUnavailable(f"cannot save batch: {first_line(e)}") from e
        except InterfaceError as e:
            raise DatabaseUnavailable(f"cannot save batch: {first_line(e)}") from e
    raise AssertionError("unreachable")  # pragma: no cover


def _sqlstate(error: Exception) -> str | None:
    orig = getattr(error, "orig", None)
    return getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)


def _save(conn: Connection, items: list[ScoredArticle]) -> list[str]:
    result = insert_many(
        conn,
        ArticleRow,
        [_article_row(i) for i in items],
        lambda stmt: stmt.on_conflict_do_nothing(index_elements=["id"]).returning(stmt.table.c.id),
    )
    assert result is not None
    new_ids = set(result.scalars().all())
    if not new_ids:
        return []
    new = [i for i in items if i.id in new_ids]
    insert_many(
        conn,
        ArticleSentimentRow,
        [_sentiment_row(i) for i in new],
        lambda stmt: stmt.on_conflict_do_nothing(index_elements=["article_id"]),
    )
    topic_rows = [
        {"article_id": i.id, "topic": t, "published_at": i.published_at}
        for i in new
        for t in sorted(set(i.topics))
    ]
    insert_many(conn, ArticleTopicRow, topic_rows, lambda stmt: stmt.on_conflict_do_nothing())
    _save_entities(conn, new)
    _increment_buckets(conn, [i for i in new if i.duplicate_of is None])
    return [i.id for i in new]


def _save_entities(conn: Connection, items: list[ScoredArticle]) -> None:
    """The ``article_entities`` rows of newly inserted articles, novelty decided against
    the stored articles about the same companies. The check runs under a transaction
    lock per company (taken in id order, so writers cannot deadlock on them), so two
    workers storing similar stories about one company at once cannot both find the
    other missing: the first to commit has the news, whichever worker it is."""
    mentions = {(i.id, e.entity_id): (i, e) for i in items for e in i.entities}
    if not mentions:
        return
    ids = sorted({entity for _, entity in mentions})
    conn.execute(
        text(
            "SELECT pg_advisory_xact_lock(hashtext(:space), hashtext(e))"
            " FROM (SELECT e FROM unnest(CAST(:ids AS text[])) AS e ORDER BY e) AS locks"
        ),
        {"space": ENTITY_LOCK_SPACE, "ids": ids},
    )
    times = [i.published_at for i, _ in mentions.values()]
    stored = _stored_titles_about(
        conn, ids, min(times) - NOVELTY_WINDOW, max(times) + NOVELTY_WINDOW
    )
    lookups = Counter(entity for _, entity in mentions)
    seen = {
        entity: SimilarTitles(
            stored.get(entity, []),
            NOVELTY_SIMILARITY,
            NOVELTY_WINDOW,
            indexed=lookups[entity] >= SimilarTitles.INDEX_FROM,
        )
        for entity in ids
    }
    rows = []
    for key in sorted(mentions, key=lambda k: (mentions[k][0].published_at, k)):
        item, e = mentions[key]
        earlier = seen[e.entity_id]
        shingles = title_shingles(normalise_title(item.title))
        rows.append(
            {
                "article_id": item.id,
                "entity_id": e.entity_id,
                "relevance": e.relevance,
                "novel": item.duplicate_of is None
                and not earlier.has_similar(item.published_at, shingles),
                "published_at": item.published_at,
            }
        )
        earlier.add(item.published_at, shingles)
    rows.sort(key=lambda r: (r["article_id"], r["entity_id"]))
    insert_many(conn, ArticleEntityRow, rows, lambda stmt: stmt.on_conflict_do_nothing())


def _stored_titles_about(
    conn: Connection, entity_ids: list[str], start: datetime, end: datetime
) -> dict[str, list[tuple[datetime, set[int]]]]:
    """Per company, the stored articles about it published in [start, end]: their time
    and title shingles (one range scan of ``(entity_id, published_at)`` per company)."""
    query = (
        select(ArticleEntityRow.entity_id, ArticleEntityRow.published_at, ArticleRow.title)
        .join(ArticleRow, ArticleRow.id == ArticleEntityRow.article_id)
        .where(
            ArticleEntityRow.entity_id.in_(entity_ids),
            ArticleEntityRow.published_at >= start,
            ArticleEntityRow.published_at <= end,
        )
    )
    out: dict[str, list[tuple[datetime, set[int]]]] = {}
    for entity_id, published_at, title in conn.execute(query):
        out.setdefault(entity_id, []).append((published_at, title_shingles(normalise_title(title))))
    return out


def _increment_buckets(conn: Connection, items: list[ScoredArticle]) -> None:
    increments = bucket_increments(
        ((i.series, i.published_at, i.label, i.polarity) for i in items), STORED_WIDTHS
    )
    rows = [
        {
            "topic": topic,
            "width_s": width,
            "bucket_start": start,
            "n_negative": c.n_negative,
            "n_neutral": c.n_neutral,
            "n_positive": c.n_positive,
            "polarity_sum": c.polarity_sum,
        }
        for (topic, width, start), c in sorted(increments.items())
    ]

    def add_on_conflict(stmt: Any) -> Any:
        bucket = stmt.table.c
        return stmt.on_conflict_do_update(
            index_elements=["topic", "width_s", "bucket_start"],
            set_={
                name: bucket[name] + stmt.excluded[name]
                for name in ("n_negative", "n_neutral", "n_positive", "polarity_sum")
            },
        )

    insert_many(conn, TopicBucketRow, rows, add_on_conflict)


def _article_row(item: ScoredArticle) -> dict[str, Any]:
    return {
        "id": item.id,
        "source": item.source,
        "url": item.url,
        "title": item.title,
        "body": item.body,
        "published_at": item.published_at,
        "fetched_at": item.fetched_at,
        "lang": item.lang,
        "tickers": list(item.tickers),
        "duplicate_of": item.duplicate_of,
    }


def _sentiment_row(item: ScoredArticle) -> dict[str, Any]:
    return {
        "article_id": item.id,
        "label": item.label,
        "p_negative": item.p_negative,
        "p_neutral": item.p_neutral,
        "p_positive": item.p_positive,
        "polarity": item.polarity,
        "model_name": item.model_name,
        "model_revision": item.model_revision,
        "scored_at": item.scored_at,
    }


# --- state of the database -------------------------------------------------------------


def schema_ready(engine: Engine) -> bool:
    """Whether the tables exist (the database was migrated)."""
    return bool(inspect(engine).has_table(ArticleRow.__tablename__))


def has_articles(engine: Engine) -> bool:
    with engine.connect() as conn:
        return conn.execute(select(ArticleRow.id).limit(1)).first() is not None


# --- series and article lists ----------------------------------------------------------


def topic_series(
    engine: Engine,
    topics: Sequence[str],
    start: datetime,
    end: datetime,
    resolution_s: int,
) -> list[SeriesPoint]:
    """Per-topic counts over [start, end) at ``resolution_s``, zero-filled, in UTC.

    Buckets are aligned to the Unix epoch (so days are UTC days); ``start`` is floored to
    the grid. The result is ordered by topic (as given) then time, one point per bucket.
    """
    starts = grid(start, end, resolution_s)
    if len(starts) > MAX_POINTS:
        raise ValueError(
            f"{len(starts)} points per topic at {resolution_s}s; at most {MAX_POINTS}: "
            "pick a coarser resolution or a shorter range"
        )
    width = source_width(resolution_s)
    topics = list(dict.fromkeys(topics))
    if not topics:
        return []
    bucket = TopicBucketRow
    query = select(
        bucket.topic,
        bucket.bucket_start,
        bucket.n_negative,
        bucket.n_neutral,
        bucket.n_positive,
        bucket.polarity_sum,
    ).where(
        bucket.topic.in_(topics),
        bucket.width_s == width,
        bucket.bucket_start >= starts[0],
        bucket.bucket_start < require_aware(end, "end"),
    )
    sums: dict[tuple[str, datetime], list[Any]] = {}
    with engine.connect() as conn:
        for topic, bucket_start, neg, neu, pos, pol in conn.execute(query):
            key = (topic, floor_time(bucket_start, resolution_s))
            acc = sums.setdefault(key, [0, 0, 0, 0.0])
            acc[0] += neg
            acc[1] += neu
            acc[2] += pos
            acc[3] += pol
    return [
        SeriesPoint(topic, t, *sums.get((topic, t), (0, 0, 0, 0.0)))
        for topic in topics
        for t in starts
    ]


def latest_articles(
    engine: Engine,
    *,
    topic: str | None = None,
    label: str | None = None,
    source: str | None = None,
    text: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    include_duplicates: bool = True,
    after: ArticleKey | None = None,
    limit: int = 50,
    lang: str | None = None,
) -> list[ArticleView]:
    """Newest articles first, filtered by topic, label, source, language, a text in the
    title (case-insensitive, literal) and a published time range.

    The order is (published_at descending, id ascending): total and stable, so ``after``
    (the ``key`` of the last article of a page) continues exactly where that page ended,
    however many articles arrive meanwhile (a keyset page: no offset to skip through).
    """
    if limit <= 0:
        return []
    query = select(ArticleRow, ArticleSentimentRow).outerjoin(
        ArticleSentimentRow, ArticleSentimentRow.article_id == ArticleRow.id
    )
    if topic is not None:
        query = query.join(
            ArticleTopicRow,
            (ArticleTopicRow.article_id == ArticleRow.id) & (ArticleTopicRow.topic == topic),
        )
        time_col: Any = ArticleTopicRow.published_at
    else:
        time_col = ArticleRow.published_at
    if label is not None:
        query = query.where(ArticleSentimentRow.label == label)
    if source is not None:
        query = query.where(ArticleRow.source == source)
    if lang is not None:
        query = query.where(ArticleRow.lang == lang)
    if text:
        query = query.where(ArticleRow.title.icontains(text, autoescape=True))
    if since is not None:
        query = query.where(time_col >= require_aware(since, "since"))
    if until is not None:
        query = query.where(time_col < require_aware(until, "until"))
    if not include_duplicates:
        query = query.where(ArticleRow.duplicate_of.is_(None))
    if after is not None:
        # the first condition alone bounds the index scan; the second drops the ties seen
        last_time, last_id = require_aware(after[0], "after"), after[1]
        query = query.where(
            time_col <= last_time, or_(time_col < last_time, ArticleRow.id > last_id)
        )
    query = query.order_by(time_col.desc(), ArticleRow.id).limit(limit)
    with Session(engine) as session:
        rows = session.execute(query).all()
        ids = [article.id for article, _ in rows]
        topics: dict[str, list[str]] = {}
        if ids:
            for article_id, name in session.execute(
                select(ArticleTopicRow.article_id, ArticleTopicRow.topic)
                .where(ArticleTopicRow.article_id.in_(ids))
                .order_by(ArticleTopicRow.topic)
            ):
                topics.setdefault(article_id, []).append(name)
        return [article_view(a, s, topics.get(a.id, [])) for a, s in rows]


def article_view(a: ArticleRow, s: ArticleSentimentRow | None, topics: list[str]) -> ArticleView:
    return ArticleView(
        id=a.id,
        source=a.source,
        url=a.url,
        title=a.title,
        published_at=a.published_at,
        label=s.label if s else None,
        p_negative=s.p_negative if s else None,
        p_neutral=s.p_neutral if s else None,
        p_positive=s.p_positive if s else None,
        polarity=s.polarity if s else None,
        model_name=s.model_name if s else None,
        topics=tuple(topics),
        tickers=tuple(a.tickers or ()),
        duplicate_of=a.duplicate_of,
    )


# --- overview --------------------------------------------------------------------------


def market_mood(engine: Engine, now: datetime) -> Mood:
    """Mean polarity and negative share of first reports in the last hour and in the
    24 hours before it (one range scan of ``articles.published_at``)."""
    now = require_aware(now, "now")
    hour_ago, start = now - HOUR, now - HOUR - DAY
    recent = ArticleRow.published_at >= hour_ago
    negative = ArticleSentimentRow.label == "negative"
    query = (
        select(
            func.sum(case((recent, 1), else_=0)),
            func.sum(case((and_(recent, negative), 1), else_=0)),
            func.sum(case((recent, ArticleSentimentRow.polarity), else_=0.0)),
            func.sum(case((recent, 0), else_=1)),
            func.sum(case((and_(~recent, negative), 1), else_=0)),
            func.sum(case((recent, 0.0), else_=ArticleSentimentRow.polarity)),
        )
        .select_from(ArticleRow)
        .join(ArticleSentimentRow, ArticleSentimentRow.article_id == ArticleRow.id)
        .where(
            ArticleRow.published_at >= start,
            ArticleRow.published_at < now,
            ArticleRow.duplicate_of.is_(None),
        )
    )
    with engine.connect() as conn:
        row = conn.execute(query).one()
    n1, neg1, pol1, n2, neg2, pol2 = (v or 0 for v in row)
    return Mood(
        now=now,
        last_hour=Aggregate(int(n1), int(neg1), float(pol1)),
        previous_day=Aggregate(int(n2), int(neg2), float(pol2)),
    )


def topic_summaries(engine: Engine, now: datetime, hours: int = 24) -> list[TopicSummary]:
    """Every topic with news in the last ``hours`` (or a firing alert): totals, one
    zero-filled point per hour (read from the hourly buckets) and firing alerts.
    Busiest topics first. Companies' series (``entity:<id>``) are not topics here: a
    heatmap of hundreds of companies would bury the topics."""
    now = require_aware(now, "now")
    current = floor_time(now, 3600)  # the hour under way is the last point
    starts = [current - timedelta(hours=back) for back in range(hours - 1, -1, -1)]
    query = select(
        TopicBucketRow.topic,
        TopicBucketRow.bucket_start,
        TopicBucketRow.n_negative,
        TopicBucketRow.n_neutral,
        TopicBucketRow.n_positive,
        TopicBucketRow.polarity_sum,
    ).where(
        TopicBucketRow.width_s == 3600,
        TopicBucketRow.bucket_start >= starts[0],
        TopicBucketRow.bucket_start < now,
        ~TopicBucketRow.topic.startswith(ENTITY_PREFIX),
    )
    firing_query = (
        select(AlertRow.topic, func.count())
        .where(AlertRow.status == "firing", ~AlertRow.topic.startswith(ENTITY_PREFIX))
        .group_by(AlertRow.topic)
    )
    cells: dict[str, dict[datetime, SeriesPoint]] = {}
    with engine.connect() as conn:
        for topic, bucket_start, neg, neu, pos, pol in conn.execute(query):
            cells.setdefault(topic, {})[bucket_start] = SeriesPoint(
                topic, bucket_start, neg, neu, pos, pol
            )
        firing = {topic: int(n) for topic, n in conn.execute(firing_query)}
    out = []
    for topic in sorted(set(cells) | set(firing)):
        by_start = cells.get(topic, {})
        points = tuple(by_start.get(t) or SeriesPoint(topic, t, 0, 0, 0, 0.0) for t in starts)
        out.append(
            TopicSummary(
                topic=topic,
                total=Aggregate(
                    n=sum(p.n for p in points),
                    n_negative=sum(p.n_negative for p in points),
                    polarity_sum=sum(p.polarity_sum for p in points),
                ),
                points=points,
                firing_alerts=firing.get(topic, 0),
            )
        )
    out.sort(key=lambda s: (-s.firing_alerts, -s.total.n, s.topic))
    return out


# --- distinct names (skip scans) -------------------------------------------------------


def _distinct(engine: Engine, table: str, column: str) -> list[str]:
    """Distinct values of an indexed leading column, one index probe per value.

    A recursive CTE asks for the next value greater than the last one, so the cost is
    (number of distinct values) x (one index lookup) instead of a scan of every row.
    ``table`` and ``column`` are our own identifiers, never user input.
    """
    sql = text(
        f"WITH RECURSIVE s(v) AS ("  # noqa: S608 - identifiers are constants of ours
        f" SELECT (SELECT min({column}) FROM {table})"
        f" UNION ALL"
        f" SELECT (SELECT min({column}) FROM {table} WHERE {column} > s.v)"
        f" FROM s WHERE s.v IS NOT NULL"
        f") SELECT v FROM s WHERE v IS NOT NULL"
    )
    with engine.connect() as conn:
        return [str(v) for (v,) in conn.execute(sql)]


def topic_names(engine: Engine) -> list[str]:
    """Every topic that has articles, by name."""
    return _distinct(engine, ArticleTopicRow.__tablename__, "topic")


def source_names(engine: Engine) -> list[str]:
    """Every source that has articles, by name."""
    return _distinct(engine, ArticleRow.__tablename__, "source")


def languages(engine: Engine) -> list[str]:
    """Every language stored articles are in (``articles.lang``), by name."""
    return _distinct(engine, ArticleRow.__tablename__, "lang")


def entity_names(engine: Engine) -> list[str]:
    """Every company (registry id) that articles name, by id."""
    return _distinct(engine, ArticleEntityRow.__tablename__, "entity_id")


# --- companies -------------------------------------------------------------------------


def filtered_series(
    engine: Engine,
    key: str,
    start: datetime,
    end: datetime,
    resolution_s: int,
    *,
    min_relevance: int = 0,
    novel_only: bool = False,
    lang: str | None = None,
) -> list[SeriesPoint]:
    """A series' first reports over [start, end) at ``resolution_s``, counting only
    those in ``lang`` (when given) and, for a company (``entity:<id>``), only articles
    at least ``min_relevance`` about it (and only news about it when ``novel_only``):
    zero-filled points, like ``topic_series``.

    Read from the articles (``in_series``: one range scan of the key's index), summed
    per bucket by the database; unfiltered, it equals ``topic_series``, which reads the
    buckets instead."""
    starts = grid(start, end, resolution_s)
    if len(starts) > MAX_POINTS:
        raise ValueError(
            f"{len(starts)} points at {resolution_s}s; at most {MAX_POINTS}: "
            "pick a coarser resolution or a shorter range"
        )
    sentiment, label = ArticleSentimentRow, ArticleSentimentRow.label
    epoch = func.floor(func.extract("epoch", ArticleRow.published_at) / resolution_s)
    query = in_series(
        select(
            epoch * resolution_s,
            func.count().filter(label == "negative"),
            func.count().filter(label == "neutral"),
            func.count().filter(label == "positive"),
            func.sum(sentiment.polarity),
        ).join(sentiment, sentiment.article_id == ArticleRow.id),
        key,
        starts[0],
        end,
        min_relevance=min_relevance,
        novel_only=novel_only,
        lang=lang,
    ).group_by(epoch)
    with engine.connect() as conn:
        sums = {
            datetime.fromtimestamp(float(t), UTC): (int(neg), int(neu), int(pos), float(pol))
            for t, neg, neu, pos, pol in conn.execute(query)
        }
    return [SeriesPoint(key, t, *sums.get(t, (0, 0, 0, 0.0))) for t in starts]


# --- topic page ------------------------------------------------------------------------


def in_series(
    query: Select[*Ts],
    key: str,
    start: datetime,
    end: datetime,
    *,
    min_relevance: int = 0,
    novel_only: bool = False,
    lang: str | None = None,
) -> Select[*Ts]:
    """``query`` (over ``articles``) narrowed to the first reports of a series published
    in [start, end): a topic's (``article_topics``) or, for ``entity:<id>``, a company's
    (``article_entities``, at least ``min_relevance``, news only when ``novel_only``);
    only those in ``lang`` when given; a range scan of either table's (key,
    published_at) index."""
    start, end = require_aware(start, "start"), require_aware(end, "end")
    entity_id = key_entity(key)
    if entity_id is None:
        t = ArticleTopicRow
        query = query.join(t, t.article_id == ArticleRow.id).where(t.topic == key)
        when: Any = t.published_at
    else:
        e = ArticleEntityRow
        query = query.join(e, e.article_id == ArticleRow.id).where(
            e.entity_id == entity_id, e.relevance >= min_relevance
        )
        if novel_only:
            query = query.where(e.novel.is_(True))
        when = e.published_at
    if lang is not None:
        query = query.where(ArticleRow.lang == lang)
    return query.where(when >= start, when < end, ArticleRow.duplicate_of.is_(None))


def headlines_between(
    engine: Engine,
    topic: str,
    start: datetime,
    end: datetime,
    limit: int = 10,
    *,
    min_relevance: int = 0,
    novel_only: bool = False,
    lang: str | None = None,
) -> Headlines:
    """First reports on ``topic`` (or a company: ``entity:<id>``), filtered as in
    ``filtered_series``, published in [start, end): the ``limit`` most negative and the
    ``limit`` most positive (by polarity), each with its sentiment."""
    base = in_series(
        select(ArticleRow, ArticleSentimentRow).join(
            ArticleSentimentRow, ArticleSentimentRow.article_id == ArticleRow.id
        ),
        topic,
        start,
        end,
        min_relevance=min_relevance,
        novel_only=novel_only,
        lang=lang,
    )
    with Session(engine) as session:
        negative = session.execute(
            base.order_by(
                ArticleSentimentRow.polarity, ArticleRow.published_at.desc(), ArticleRow.id
            ).limit(limit)
        ).all()
        positive = session.execute(
            base.order_by(
                ArticleSentimentRow.polarity.desc(), ArticleRow.published_at.desc(), ArticleRow.id
            ).limit(limit)
        ).all()
        topics = _topics_of(session, [a.id for a, _ in [*negative, *positive]])
        return Headlines(
            most_negative=tuple(article_view(a, s, topics.get(a.id, [])) for a, s in negative),
            most_positive=tuple(article_view(a, s, topics.get(a.id, [])) for a, s in positive),
        )


def _topics_of(session: Session, ids: Iterable[str]) -> dict[str, list[str]]:
    wanted = list(dict.fromkeys(ids))
    out: dict[str, list[str]] = {}
    if not wanted:
        return out
    for article_id, name in session.execute(
        select(ArticleTopicRow.article_id, ArticleTopicRow.topic)
        .where(ArticleTopicRow.article_id.in_(wanted))
        .order_by(ArticleTopicRow.topic)
    ):
        out.setdefault(article_id, []).append(name)
    return out


# --- live feed -------------------------------------------------------------------------


def duplicates_of(engine: Engine, ids: Sequence[str]) -> dict[str, list[ArticleView]]:
    """The later copies of each given first report, oldest first (index on duplicate_of)."""
    if not ids:
        return {}
    query = (
        select(ArticleRow, ArticleSentimentRow)
        .outerjoin(ArticleSentimentRow, ArticleSentimentRow.article_id == ArticleRow.id)
        .where(ArticleRow.duplicate_of.in_(list(ids)))
        .order_by(ArticleRow.published_at, ArticleRow.id)
    )
    out: dict[str, list[ArticleView]] = {}
    with Session(engine) as session:
        for a, s in session.execute(query).all():
            assert a.duplicate_of is not None
            out.setdefault(a.duplicate_of, []).append(article_view(a, s, []))
    return out


# --- model and freshness ---------------------------------------------------------------


def models_in_use(engine: Engine, sample: int = 1000) -> list[ModelUse]:
    """The models that scored the ``sample`` most recently published articles, the
    most used first."""
    recent = select(ArticleRow.id).order_by(ArticleRow.published_at.desc()).limit(sample).subquery()
    query = (
        select(
            ArticleSentimentRow.model_name,
            ArticleSentimentRow.model_revision,
            func.count(),
            func.max(ArticleSentimentRow.scored_at),
        )
        .join(recent, recent.c.id == ArticleSentimentRow.article_id)
        .group_by(ArticleSentimentRow.model_name, ArticleSentimentRow.model_revision)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    uses = [ModelUse(name, revision, int(n), last) for name, revision, n, last in rows]
    return sorted(uses, key=lambda u: (-u.articles, -u.last_scored_at.timestamp()))


def freshness(engine: Engine, sample: int = 1000) -> Freshness:
    """The newest article and the median fetch-to-store delay of the newest ones."""
    query = (
        select(ArticleRow.published_at, ArticleRow.fetched_at, ArticleRow.stored_at)
        .order_by(ArticleRow.published_at.desc())
        .limit(sample)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    if not rows:
        return Freshness(None, None, None, 0)
    delays = [(stored - fetched).total_seconds() for _, fetched, stored in rows]
    return Freshness(
        newest_published_at=rows[0][0],
        newest_stored_at=max(stored for _, _, stored in rows),
        median_delay_s=statistics.median(delays),
        sample=len(rows),
    )
