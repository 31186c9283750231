"""The reads the dashboard, the alert rules and the CLI need. Plain data out."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from storage.buckets import floor_time, grid, require_aware, source_width
from storage.models import Alert, Article, ArticleSentiment, ArticleTopic, SourceHealth, TopicBucket
from storage.types import AlertView, ArticleView, SeriesPoint, SourceHealthView

#: At most this many points per topic in one series query.
MAX_POINTS = 50_000


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
    bucket = TopicBucket
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
    limit: int = 50,
) -> list[ArticleView]:
    """Newest articles first, filtered by topic, label, source, a text in the title
    (case-insensitive, literal) and a published time range."""
    if limit <= 0:
        return []
    query = select(Article, ArticleSentiment).outerjoin(
        ArticleSentiment, ArticleSentiment.article_id == Article.id
    )
    if topic is not None:
        query = query.join(
            ArticleTopic, (ArticleTopic.article_id == Article.id) & (ArticleTopic.topic == topic)
        )
        time_col: Any = ArticleTopic.published_at
    else:
        time_col = Article.published_at
    if label is not None:
        query = query.where(ArticleSentiment.label == label)
    if source is not None:
        query = query.where(Article.source == source)
    if text:
        query = query.where(Article.title.icontains(text, autoescape=True))
    if since is not None:
        query = query.where(time_col >= require_aware(since, "since"))
    if until is not None:
        query = query.where(time_col < require_aware(until, "until"))
    if not include_duplicates:
        query = query.where(Article.duplicate_of.is_(None))
    query = query.order_by(time_col.desc(), Article.id).limit(limit)
    with Session(engine) as session:
        rows = session.execute(query).all()
        ids = [article.id for article, _ in rows]
        topics: dict[str, list[str]] = {}
        if ids:
            for article_id, name in session.execute(
                select(ArticleTopic.article_id, ArticleTopic.topic)
                .where(ArticleTopic.article_id.in_(ids))
                .order_by(ArticleTopic.topic)
            ):
                topics.setdefault(article_id, []).append(name)
        return [article_view(a, s, topics.get(a.id, [])) for a, s in rows]


def article_view(a: Article, s: ArticleSentiment | None, topics: list[str]) -> ArticleView:
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


def list_alerts(
    engine: Engine,
    *,
    status: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    topic: str | None = None,
    limit: int = 100,
) -> list[AlertView]:
    """Alerts newest first; ``since``/``until`` bound when they started."""
    query = select(Alert)
    if status is not None:
        query = query.where(Alert.status == status)
    if topic is not None:
        query = query.where(Alert.topic == topic)
    if since is not None:
        query = query.where(Alert.starts_at >= require_aware(since, "since"))
    if until is not None:
        query = query.where(Alert.starts_at < require_aware(until, "until"))
    query = query.order_by(Alert.starts_at.desc(), Alert.id).limit(limit)
    with Session(engine) as session:
        return [alert_view(a) for a in session.scalars(query)]


def alert_view(a: Alert) -> AlertView:
    return AlertView(
        id=a.id,
        fingerprint=a.fingerprint,
        rule=a.rule,
        topic=a.topic,
        severity=a.severity,
        status=a.status,
        starts_at=a.starts_at,
        ends_at=a.ends_at,
        updated_at=a.updated_at,
        value=a.value,
        baseline=a.baseline,
        threshold=a.threshold,
        details=dict(a.details or {}),
    )


def source_health(engine: Engine) -> list[SourceHealthView]:
    """Every feed's health, by name."""
    with Session(engine) as session:
        return [
            SourceHealthView(
                feed=h.feed,
                url=h.url,
                last_fetch_at=h.last_fetch_at,
                last_success_at=h.last_success_at,
                last_error=h.last_error,
                last_status=h.last_status,
                items_seen=h.items_seen,
                items_new=h.items_new,
                items_duplicate=h.items_duplicate,
                consecutive_failures=h.consecutive_failures,
                items_rejected=h.items_rejected,
                etag=h.etag,
                last_modified=h.last_modified,
                retry_at=h.retry_at,
            )
            for h in session.scalars(select(SourceHealth).order_by(SourceHealth.feed))
        ]
