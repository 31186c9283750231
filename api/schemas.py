"""What the API answers and the exports write: one pydantic model per kind of row, read
from ``storage``'s plain types (``from_view``), so the JSON fields, the OpenAPI schema and
the CSV/Parquet columns are the same names."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from storage.alerts import AlertView
from storage.articles import ArticleView, SeriesPoint, TopicSummary
from storage.feeds import SourceHealthView


class Health(BaseModel):
    status: str = Field(description="ok, or unavailable when the database does not answer.")
    database: str = Field(description="ok, unmigrated, or why it does not answer.")


class SeriesPointOut(BaseModel):
    """One series over one time bucket; an empty bucket has zero counts and no means."""

    key: str = Field(description="The series: a topic name.")
    start: datetime = Field(description="Start of the bucket (UTC, aligned to the epoch).")
    n: int
    n_negative: int
    n_neutral: int
    n_positive: int
    mean_polarity: float | None = Field(description="Mean of p_positive - p_negative.")
    negative_share: float | None

    @classmethod
    def from_view(cls, point: SeriesPoint) -> SeriesPointOut:
        return cls(
            key=point.topic,
            start=point.bucket_start,
            n=point.n,
            n_negative=point.n_negative,
            n_neutral=point.n_neutral,
            n_positive=point.n_positive,
            mean_polarity=point.mean_polarity,
            negative_share=point.negative_share,
        )


class Series(BaseModel):
    resolution: str
    start: datetime = Field(description="The first bucket's start (``start`` floored).")
    end: datetime
    points: list[SeriesPointOut] = Field(description="By key as asked, then by time.")


class TopicOut(BaseModel):
    """A topic over the last ``hours``: totals, one point per hour, firing alerts."""

    topic: str
    n: int
    n_negative: int
    mean_polarity: float | None
    negative_share: float | None
    firing_alerts: int
    points: list[SeriesPointOut]

    @classmethod
    def from_view(cls, summary: TopicSummary) -> TopicOut:
        total = summary.total
        return cls(
            topic=summary.topic,
            n=total.n,
            n_negative=total.n_negative,
            mean_polarity=total.mean_polarity,
            negative_share=total.negative_share,
            firing_alerts=summary.firing_alerts,
            points=[SeriesPointOut.from_view(p) for p in summary.points],
        )


class ArticleOut(BaseModel):
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
    confidence: float | None
    model_name: str | None
    topics: list[str]
    tickers: list[str]
    duplicate_of: str | None = Field(description="The first report of a syndicated copy.")

    @classmethod
    def from_view(cls, a: ArticleView) -> ArticleOut:
        return cls(
            id=a.id,
            source=a.source,
            url=a.url,
            title=a.title,
            published_at=a.published_at,
            label=a.label,
            p_negative=a.p_negative,
            p_neutral=a.p_neutral,
            p_positive=a.p_positive,
            polarity=a.polarity,
            confidence=a.confidence,
            model_name=a.model_name,
            topics=list(a.topics),
            tickers=list(a.tickers),
            duplicate_of=a.duplicate_of,
        )


class AlertOut(BaseModel):
    id: str
    fingerprint: str
    rule: str
    topic: str
    severity: str
    status: str
    starts_at: datetime
    ends_at: datetime | None
    updated_at: datetime
    value: float | None
    baseline: float | None
    threshold: float | None
    details: dict[str, Any] = Field(description="The firing and resolved events as sent.")

    @classmethod
    def from_view(cls, a: AlertView) -> AlertOut:
        return cls(
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
            details=a.details,
        )


class SourceOut(BaseModel):
    feed: str
    url: str | None
    last_fetch_at: datetime | None
    last_success_at: datetime | None
    last_error: str | None
    last_status: int | None
    items_seen: int
    items_new: int
    items_duplicate: int
    items_rejected: int
    consecutive_failures: int
    retry_at: datetime | None = Field(description="When a failing feed is polled again.")

    @classmethod
    def from_view(cls, h: SourceHealthView) -> SourceOut:
        return cls(
            feed=h.feed,
            url=h.url,
            last_fetch_at=h.last_fetch_at,
            last_success_at=h.last_success_at,
            last_error=h.last_error,
            last_status=h.last_status,
            items_seen=h.items_seen,
            items_new=h.items_new,
            items_duplicate=h.items_duplicate,
            items_rejected=h.items_rejected,
            consecutive_failures=h.consecutive_failures,
            retry_at=h.retry_at,
        )


class ArticlePage(BaseModel):
    items: list[ArticleOut] = Field(description="Newest first, by (published_at, id).")
    next: str | None = Field(description="The next page's path and query; null on the last.")


class AlertPage(BaseModel):
    items: list[AlertOut] = Field(description="Newest first, by (starts_at, id).")
    next: str | None = Field(description="The next page's path and query; null on the last.")
