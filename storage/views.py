"""The reads behind the dashboard's pages: plain dataclasses out, one cheap query each.

Every query here is bounded by an index: series and topic summaries read
``topic_buckets`` (never raw article rows), headline lists are range scans of
``(topic, published_at)`` or ``published_at``, and the distinct topic and source lists
walk their indexes one key at a time (a "skip scan") instead of reading every row.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, case, func, inspect, or_, select, text
from sqlalchemy.orm import Session

from storage.buckets import grid, require_aware
from storage.models import (
    Alert,
    Article,
    ArticleSentiment,
    ArticleTopic,
    TopicBucket,
    WebhookDelivery,
    WorkerCounters,
)
from storage.queries import alert_view, article_view
from storage.types import AlertView, ArticleView, SeriesPoint, Tally

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


# --- plain data out -------------------------------------------------------------------


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
class DeliveryView:
    id: int
    event_id: str
    receiver: str
    status: str
    attempts: int
    last_status: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    next_attempt_at: datetime | None
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ReceiverSummary:
    """Delivery state of one webhook receiver, over every event."""

    receiver: str
    pending: int
    delivered: int
    failed: int
    disabled: int
    last_delivered_at: datetime | None
    last_error: str | None


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


@dataclass(frozen=True, slots=True)
class WorkerCountersView:
    worker: str
    agent: str
    started_at: datetime
    updated_at: datetime
    processed: int
    dead_lettered: int
    retried: int
    batches: int


# --- state of the database ------------------------------------------------------------


def schema_ready(engine: Engine) -> bool:
    """Whether the tables exist (the database was migrated)."""
    return bool(inspect(engine).has_table(Article.__tablename__))


def has_articles(engine: Engine) -> bool:
    with engine.connect() as conn:
        return conn.execute(select(Article.id).limit(1)).first() is not None


# --- overview --------------------------------------------------------------------------


def market_mood(engine: Engine, now: datetime) -> Mood:
    """Mean polarity and negative share of first reports in the last hour and in the
    24 hours before it (one range scan of ``articles.published_at``)."""
    now = require_aware(now, "now")
    hour_ago, start = now - HOUR, now - HOUR - DAY
    recent = Article.published_at >= hour_ago
    negative = ArticleSentiment.label == "negative"
    query = (
        select(
            func.sum(case((recent, 1), else_=0)),
            func.sum(case((and_(recent, negative), 1), else_=0)),
            func.sum(case((recent, ArticleSentiment.polarity), else_=0.0)),
            func.sum(case((recent, 0), else_=1)),
            func.sum(case((and_(~recent, negative), 1), else_=0)),
            func.sum(case((recent, 0.0), else_=ArticleSentiment.polarity)),
        )
        .select_from(Article)
        .join(ArticleSentiment, ArticleSentiment.article_id == Article.id)
        .where(
            Article.published_at >= start,
            Article.published_at < now,
            Article.duplicate_of.is_(None),
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
    Busiest topics first."""
    now = require_aware(now, "now")
    starts = grid(now - timedelta(hours=hours - 1), now, 3600)
    query = select(
        TopicBucket.topic,
        TopicBucket.bucket_start,
        TopicBucket.n_negative,
        TopicBucket.n_neutral,
        TopicBucket.n_positive,
        TopicBucket.polarity_sum,
    ).where(
        TopicBucket.width_s == 3600,
        TopicBucket.bucket_start >= starts[0],
        TopicBucket.bucket_start < now,
    )
    firing_query = (
        select(Alert.topic, func.count()).where(Alert.status == "firing").group_by(Alert.topic)
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


# --- distinct names (skip scans) -----------------------------------------------------


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
    return _distinct(engine, ArticleTopic.__tablename__, "topic")


def source_names(engine: Engine) -> list[str]:
    """Every source that has articles, by name."""
    return _distinct(engine, Article.__tablename__, "source")


# --- topic page ------------------------------------------------------------------------


def alerts_overlapping(
    engine: Engine, topics: Sequence[str], start: datetime, end: datetime
) -> list[AlertView]:
    """Alerts on ``topics`` that were firing at some time in [start, end)."""
    start, end = require_aware(start, "start"), require_aware(end, "end")
    if not topics:
        return []
    query = (
        select(Alert)
        .where(
            Alert.topic.in_(list(topics)),
            Alert.starts_at < end,
            or_(Alert.ends_at.is_(None), Alert.ends_at >= start),
        )
        .order_by(Alert.starts_at, Alert.id)
    )
    with Session(engine) as session:
        return [alert_view(a) for a in session.scalars(query)]


def headlines_between(
    engine: Engine, topic: str, start: datetime, end: datetime, limit: int = 10
) -> Headlines:
    """First reports on ``topic`` published in [start, end): the ``limit`` most
    negative and the ``limit`` most positive (by polarity), each with its sentiment."""
    start, end = require_aware(start, "start"), require_aware(end, "end")
    base = (
        select(Article, ArticleSentiment)
        .join(ArticleTopic, ArticleTopic.article_id == Article.id)
        .join(ArticleSentiment, ArticleSentiment.article_id == Article.id)
        .where(
            ArticleTopic.topic == topic,
            ArticleTopic.published_at >= start,
            ArticleTopic.published_at < end,
            Article.duplicate_of.is_(None),
        )
    )
    with Session(engine) as session:
        negative = session.execute(
            base.order_by(ArticleSentiment.polarity, Article.published_at.desc(), Article.id).limit(
                limit
            )
        ).all()
        positive = session.execute(
            base.order_by(
                ArticleSentiment.polarity.desc(), Article.published_at.desc(), Article.id
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
        select(ArticleTopic.article_id, ArticleTopic.topic)
        .where(ArticleTopic.article_id.in_(wanted))
        .order_by(ArticleTopic.topic)
    ):
        out.setdefault(article_id, []).append(name)
    return out


# --- live feed -------------------------------------------------------------------------


def duplicates_of(engine: Engine, ids: Sequence[str]) -> dict[str, list[ArticleView]]:
    """The later copies of each given first report, oldest first (index on duplicate_of)."""
    if not ids:
        return {}
    query = (
        select(Article, ArticleSentiment)
        .outerjoin(ArticleSentiment, ArticleSentiment.article_id == Article.id)
        .where(Article.duplicate_of.in_(list(ids)))
        .order_by(Article.published_at, Article.id)
    )
    out: dict[str, list[ArticleView]] = {}
    with Session(engine) as session:
        for a, s in session.execute(query).all():
            assert a.duplicate_of is not None
            out.setdefault(a.duplicate_of, []).append(article_view(a, s, []))
    return out


# --- alerts ----------------------------------------------------------------------------


def deliveries_since(engine: Engine, since: datetime, limit: int = 5000) -> list[DeliveryView]:
    """Webhook deliveries created at or after ``since``, newest first."""
    query = (
        select(WebhookDelivery)
        .where(WebhookDelivery.created_at >= require_aware(since, "since"))
        .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc())
        .limit(limit)
    )
    with Session(engine) as session:
        return [
            DeliveryView(
                id=d.id,
                event_id=d.event_id,
                receiver=d.receiver,
                status=d.status,
                attempts=d.attempts,
                last_status=d.last_status,
                last_error=d.last_error,
                created_at=d.created_at,
                delivered_at=d.delivered_at,
                next_attempt_at=d.next_attempt_at,
                payload=dict(d.payload or {}),
            )
            for d in session.scalars(query)
        ]


def receiver_summaries(engine: Engine) -> list[ReceiverSummary]:
    """Per receiver: deliveries by status, the last success and the latest error."""
    d = WebhookDelivery
    counts = select(
        d.receiver,
        *(func.sum(case((d.status == s, 1), else_=0)) for s in ("pending", "delivered")),
        *(func.sum(case((d.status == s, 1), else_=0)) for s in ("failed", "disabled")),
        func.max(d.delivered_at),
    ).group_by(d.receiver)
    latest_error = (
        select(d.receiver, d.last_error)
        .where(d.last_error.is_not(None))
        .order_by(d.receiver, d.created_at.desc(), d.id.desc())
    )
    with engine.connect() as conn:
        rows = conn.execute(counts.order_by(d.receiver)).all()
        errors: dict[str, str] = {}
        for receiver, error in conn.execute(latest_error):
            if error is not None:
                errors.setdefault(receiver, error)
    return [
        ReceiverSummary(
            receiver=r[0],
            pending=int(r[1] or 0),
            delivered=int(r[2] or 0),
            failed=int(r[3] or 0),
            disabled=int(r[4] or 0),
            last_delivered_at=r[5],
            last_error=errors.get(r[0]),
        )
        for r in rows
    ]


def match_deliveries(
    alerts: Sequence[AlertView], deliveries: Sequence[DeliveryView]
) -> dict[str, list[DeliveryView]]:
    """The deliveries of each alert's events: an event id that is the alert id or one
    the alert's details name (``event_id``, ``event_ids``), or a payload that names
    the alert (``alert_id``, or its fingerprint and start time)."""
    out: dict[str, list[DeliveryView]] = {a.id: [] for a in alerts}
    by_event: dict[str, str] = {}
    by_fingerprint: dict[tuple[str, str], str] = {}
    for a in alerts:
        by_event[a.id] = a.id
        details = a.details or {}
        named = details.get("event_ids") or []
        if isinstance(details.get("event_id"), str):
            named = [*named, details["event_id"]]
        for event_id in named if isinstance(named, list) else []:
            by_event[str(event_id)] = a.id
        by_fingerprint[(a.fingerprint, a.starts_at.isoformat())] = a.id
    for d in deliveries:
        alert_id = by_event.get(d.event_id) or by_event.get(str(d.payload.get("alert_id", "")))
        if alert_id is None:
            key = (str(d.payload.get("fingerprint", "")), _iso(d.payload.get("starts_at")))
            alert_id = by_fingerprint.get(key)
        if alert_id is not None:
            out[alert_id].append(d)
    return out


def _iso(value: Any) -> str:
    if not isinstance(value, str):
        return ""
    try:
        return require_aware(datetime.fromisoformat(value.replace("Z", "+00:00")), "t").isoformat()
    except ValueError:
        return ""


# --- sources and model -----------------------------------------------------------------


def models_in_use(engine: Engine, sample: int = 1000) -> list[ModelUse]:
    """The models that scored the ``sample`` most recently published articles, the
    most used first."""
    recent = select(Article.id).order_by(Article.published_at.desc()).limit(sample).subquery()
    query = (
        select(
            ArticleSentiment.model_name,
            ArticleSentiment.model_revision,
            func.count(),
            func.max(ArticleSentiment.scored_at),
        )
        .join(recent, recent.c.id == ArticleSentiment.article_id)
        .group_by(ArticleSentiment.model_name, ArticleSentiment.model_revision)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    uses = [ModelUse(name, revision, int(n), last) for name, revision, n, last in rows]
    return sorted(uses, key=lambda u: (-u.articles, -u.last_scored_at.timestamp()))


def freshness(engine: Engine, sample: int = 1000) -> Freshness:
    """The newest article and the median fetch-to-store delay of the newest ones."""
    query = (
        select(Article.published_at, Article.fetched_at, Article.stored_at)
        .order_by(Article.published_at.desc())
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


def worker_counters(engine: Engine) -> list[WorkerCountersView]:
    """Every worker's agent counters, most recently updated first."""
    query = select(WorkerCounters).order_by(
        WorkerCounters.updated_at.desc(), WorkerCounters.worker, WorkerCounters.agent
    )
    with Session(engine) as session:
        return [
            WorkerCountersView(
                worker=w.worker,
                agent=w.agent,
                started_at=w.started_at,
                updated_at=w.updated_at,
                processed=w.processed,
                dead_lettered=w.dead_lettered,
                retried=w.retried,
                batches=w.batches,
            )
            for w in session.scalars(query)
        ]
