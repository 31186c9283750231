"""SQLAlchemy 2.0 typed models: the whole schema, one MetaData with a naming convention.

Natural keys make replays harmless: an article is keyed by its item id, a bucket by
(topic, width, start), a delivery by (event id, receiver). Every timestamp is UTC.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from storage.sqltypes import UTCDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_N_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

LABELS = ("negative", "neutral", "positive")
ALERT_STATUSES = ("firing", "resolved")
DELIVERY_STATUSES = ("pending", "delivered", "failed", "disabled")

ITEM_ID_LENGTH = 128
TOPIC_LENGTH = 100
ENTITY_ID_LENGTH = 20


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
    }


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class ArticleRow(Base):
    """A news item as published to ``news.raw`` (the NewsItem of DESIGN.md)."""

    __tablename__ = "articles"

    id: Mapped[str] = mapped_column(String(ITEM_ID_LENGTH), primary_key=True)
    source: Mapped[str] = mapped_column(String(200))
    url: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text)
    body: Mapped[str | None] = mapped_column(Text)
    published_at: Mapped[datetime]
    fetched_at: Mapped[datetime]
    lang: Mapped[str | None] = mapped_column(String(16))
    tickers: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Not a foreign key on purpose: with several workers the first report may be
    # committed by another worker after this copy; the link is informational.
    duplicate_of: Mapped[str | None] = mapped_column(String(ITEM_ID_LENGTH), index=True)
    stored_at: Mapped[datetime] = mapped_column(server_default=text("CURRENT_TIMESTAMP"))

    sentiment: Mapped[ArticleSentimentRow | None] = relationship(
        back_populates="article", cascade="all, delete-orphan", passive_deletes=True
    )
    topics: Mapped[list[ArticleTopicRow]] = relationship(
        back_populates="article", cascade="all, delete-orphan", passive_deletes=True
    )

    __table_args__ = (
        Index("ix_articles_published_at", "published_at"),
        Index("ix_articles_source_published_at", "source", "published_at"),
        Index("ix_articles_lang_published_at", "lang", "published_at"),
        Index("ix_articles_stored_at", "stored_at"),
    )


class ArticleSentimentRow(Base):
    """The model's verdict on one article."""

    __tablename__ = "article_sentiment"

    article_id: Mapped[str] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    label: Mapped[str] = mapped_column(String(8))
    p_negative: Mapped[float] = mapped_column(Float)
    p_neutral: Mapped[float] = mapped_column(Float)
    p_positive: Mapped[float] = mapped_column(Float)
    polarity: Mapped[float] = mapped_column(Float)
    model_name: Mapped[str] = mapped_column(String(200))
    model_revision: Mapped[str] = mapped_column(String(100))
    scored_at: Mapped[datetime]

    article: Mapped[ArticleRow] = relationship(back_populates="sentiment")

    __table_args__ = (
        CheckConstraint(_in("label", LABELS), name="label"),
        CheckConstraint(
            "p_negative >= 0 AND p_negative <= 1 AND p_neutral >= 0 AND p_neutral <= 1 "
            "AND p_positive >= 0 AND p_positive <= 1",
            name="probabilities",
        ),
        CheckConstraint("polarity >= -1 AND polarity <= 1", name="polarity"),
        Index("ix_article_sentiment_label", "label"),
    )


class ArticleTopicRow(Base):
    """Which watched topics an article is about. ``published_at`` is copied from the
    article so that "latest articles on a topic" is one index range scan."""

    __tablename__ = "article_topics"

    article_id: Mapped[str] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    topic: Mapped[str] = mapped_column(String(TOPIC_LENGTH), primary_key=True)
    published_at: Mapped[datetime]

    article: Mapped[ArticleRow] = relationship(back_populates="topics")

    __table_args__ = (Index("ix_article_topics_topic_published_at", "topic", "published_at"),)


class ArticleEntityRow(Base):
    """A registry company an article names: how much the article is about it (relevance
    0-100) and whether it is news about it (``novel``: no similar story about it was
    stored before within the novelty window). ``published_at`` is copied from the
    article so that a company's filtered series is one index range scan."""

    __tablename__ = "article_entities"

    article_id: Mapped[str] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    entity_id: Mapped[str] = mapped_column(String(ENTITY_ID_LENGTH), primary_key=True)
    relevance: Mapped[int] = mapped_column(SmallInteger)
    novel: Mapped[bool] = mapped_column(Boolean)
    published_at: Mapped[datetime]

    __table_args__ = (
        CheckConstraint("relevance >= 0 AND relevance <= 100", name="relevance"),
        Index("ix_article_entities_entity_id_published_at", "entity_id", "published_at"),
    )


class TopicBucketRow(Base):
    """Per-topic counters over one fixed-width time bucket (one row per topic per bucket)."""

    __tablename__ = "topic_buckets"

    topic: Mapped[str] = mapped_column(String(TOPIC_LENGTH), primary_key=True)
    width_s: Mapped[int] = mapped_column(Integer, primary_key=True)
    bucket_start: Mapped[datetime] = mapped_column(primary_key=True)
    n_negative: Mapped[int] = mapped_column(Integer, default=0)
    n_neutral: Mapped[int] = mapped_column(Integer, default=0)
    n_positive: Mapped[int] = mapped_column(Integer, default=0)
    polarity_sum: Mapped[float] = mapped_column(Float, default=0.0)

    __table_args__ = (
        CheckConstraint("width_s > 0", name="width_positive"),
        CheckConstraint("n_negative >= 0 AND n_neutral >= 0 AND n_positive >= 0", name="counts"),
        Index("ix_topic_buckets_width_s_bucket_start", "width_s", "bucket_start"),
    )


class AlertRow(Base):
    """One alert occurrence of a rule on a topic, from firing to resolved."""

    __tablename__ = "alerts"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(200))
    rule: Mapped[str] = mapped_column(String(100))
    topic: Mapped[str] = mapped_column(String(TOPIC_LENGTH))
    severity: Mapped[str] = mapped_column(String(20), default="warning")
    status: Mapped[str] = mapped_column(String(10))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]
    value: Mapped[float | None] = mapped_column(Float)
    baseline: Mapped[float | None] = mapped_column(Float)
    threshold: Mapped[float | None] = mapped_column(Float)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    __table_args__ = (
        CheckConstraint(_in("status", ALERT_STATUSES), name="status"),
        UniqueConstraint("fingerprint", "starts_at"),
        Index("ix_alerts_status_starts_at", "status", "starts_at"),
        Index("ix_alerts_starts_at", "starts_at"),
    )


class WebhookDeliveryRow(Base):
    """The outbox: one row per (event, receiver), with its retry state."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(64))
    receiver: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(server_default=text("CURRENT_TIMESTAMP"))
    delivered_at: Mapped[datetime | None]
    # Added by migration 0003: retries stop after this time (the retry horizon).
    give_up_at: Mapped[datetime | None]

    __table_args__ = (
        CheckConstraint(_in("status", DELIVERY_STATUSES), name="status"),
        CheckConstraint("attempts >= 0", name="attempts"),
        UniqueConstraint("event_id", "receiver"),
        Index("ix_webhook_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
    )


class SourceHealthRow(Base):
    """What the last polls of one feed did."""

    __tablename__ = "source_health"

    feed: Mapped[str] = mapped_column(String(200), primary_key=True)
    url: Mapped[str | None] = mapped_column(Text)
    last_fetch_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    last_status: Mapped[int | None] = mapped_column(Integer)
    items_seen: Mapped[int] = mapped_column(Integer, default=0)
    items_new: Mapped[int] = mapped_column(Integer, default=0)
    items_duplicate: Mapped[int] = mapped_column(Integer, default=0)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    # Added by 0002: entries refused (no title, oversized), the conditional-GET
    # validators of the last 200, and when a failing feed may be polled again.
    items_rejected: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    retry_at: Mapped[datetime | None]


PUBLISHED_STATES = ("pending", "stored", "given_up")


class PublishedItemRow(Base):
    """An item id the feed scheduler has already published to ``news.raw``.

    Remembered durably so that a scheduler restart, or two feeds carrying the same
    link, never publishes the same item twice. An item stays ``pending`` (with the
    record as sent, to send it again) until its id is in ``articles``; then it is
    ``stored`` and the record dropped. One never stored after the last re-publication
    is ``given_up`` (migration 0005; rows from before it are ``stored``).
    """

    __tablename__ = "published_items"

    id: Mapped[str] = mapped_column(String(ITEM_ID_LENGTH), primary_key=True)
    feed: Mapped[str] = mapped_column(String(200))
    published_at: Mapped[datetime] = mapped_column(server_default=text("CURRENT_TIMESTAMP"))
    # The title and the syndication link, so that a restarted scheduler rebuilds its
    # near-duplicate memory of the last window from here.
    title: Mapped[str | None] = mapped_column(Text)
    duplicate_of: Mapped[str | None] = mapped_column(String(ITEM_ID_LENGTH))
    state: Mapped[str] = mapped_column(String(10), server_default=text("'stored'"))
    # The record as sent (key = id), kept while pending; re-sent at ``retry_at`` unless
    # stored by then. ``attempts`` counts the sends the broker acknowledged.
    record: Mapped[bytes | None] = mapped_column(LargeBinary)
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    retry_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_published_items_published_at", "published_at"),
        Index("ix_published_items_state_retry_at", "state", "retry_at"),
        CheckConstraint(_in("state", PUBLISHED_STATES), name="state"),
    )


class WorkerCountersRow(Base):
    """What one worker process's agents have counted since it started, flushed every
    few seconds so the dashboard (which reads only the database) can show them."""

    __tablename__ = "worker_counters"

    worker: Mapped[str] = mapped_column(String(200), primary_key=True)
    agent: Mapped[str] = mapped_column(String(40), primary_key=True)
    started_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    processed: Mapped[int] = mapped_column(BigInteger, default=0)
    dead_lettered: Mapped[int] = mapped_column(BigInteger, default=0)
    retried: Mapped[int] = mapped_column(BigInteger, default=0)
    batches: Mapped[int] = mapped_column(BigInteger, default=0)
    #: the group's lag on the partitions of the agent's topic the worker holds (migration
    #: 0006); None until the worker has read it
    lag: Mapped[int | None] = mapped_column(BigInteger, nullable=True)

    __table_args__ = (Index("ix_worker_counters_updated_at", "updated_at"),)


# --- alerting (migration 0003) -------------------------------------------------------

ALERT_STATES = ("inactive", "pending", "firing", "resolved")
ATTEMPT_OUTCOMES = ("delivered", "retry", "failed", "disabled")


class AlertStateRow(Base):
    """The lifecycle state of one fingerprint (rule + topic): the evaluator's memory."""

    __tablename__ = "alert_states"

    fingerprint: Mapped[str] = mapped_column(String(200), primary_key=True)
    rule: Mapped[str] = mapped_column(String(100))
    topic: Mapped[str] = mapped_column(String(TOPIC_LENGTH))
    state: Mapped[str] = mapped_column(String(10))
    since: Mapped[datetime | None]
    pending_since: Mapped[datetime | None]
    alert_id: Mapped[str | None] = mapped_column(String(64))
    starts_at: Mapped[datetime | None]
    cooldown_until: Mapped[datetime | None]
    refreshed_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]

    __table_args__ = (CheckConstraint(_in("state", ALERT_STATES), name="state"),)


class AlertEventRow(Base):
    """A transition to firing or resolved, as sent: the alerts topic is fed from here."""

    __tablename__ = "alert_events"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    alert_id: Mapped[str] = mapped_column(String(64), index=True)
    fingerprint: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime]
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    published_at: Mapped[datetime | None]

    __table_args__ = (
        CheckConstraint(_in("status", ALERT_STATUSES), name="status"),
        Index("ix_alert_events_published_at", "published_at"),
    )


class AlertEvaluatorRow(Base):
    """One row: who evaluated the rules last and when, up to which bucket, and how many
    items came after their bucket had been evaluated (migration 0004)."""

    __tablename__ = "alert_evaluator"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    last_run_at: Mapped[datetime]
    as_of: Mapped[datetime | None]
    late_items: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    # database time up to which stored articles were checked for lateness
    late_checked_at: Mapped[datetime | None]


class WebhookReceiverRow(Base):
    """A receiver's durable state: disabled after a 410 Gone until re-enabled."""

    __tablename__ = "webhook_receivers"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    disabled_at: Mapped[datetime | None]
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime]


class WebhookAttemptRow(Base):
    """Every delivery attempt: when, how long, what came back."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    attempt: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime]
    duration_ms: Mapped[float] = mapped_column(Float)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(String(10))
    worker: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (CheckConstraint(_in("outcome", ATTEMPT_OUTCOMES), name="outcome"),)
