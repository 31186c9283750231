"""What the API answers and the exports write: one pydantic model per kind of row, read
from ``storage``'s plain types (``from_view``), so the JSON fields, the OpenAPI schema and
the CSV/Parquet columns are the same names. A model whose fields carry the view's names
reads them by name (``_FromView``); the series models rename theirs."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field

from storage.articles import SeriesPoint, TopicSummary


class _FromView(BaseModel):
    """A model read from a ``storage`` view's attributes of the same names (a view's
    other attributes are not part of the API); a field the view lacks is an error."""

    model_config = ConfigDict(from_attributes=True)

    @classmethod
    def from_view(cls, view: object) -> Self:
        return cls.model_validate(view)


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


class ArticleOut(_FromView):
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


class AlertOut(_FromView):
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


class SourceOut(_FromView):
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


class ArticlePage(BaseModel):
    items: list[ArticleOut] = Field(description="Newest first, by (published_at, id).")
    next: str | None = Field(description="The next page's path and query; null on the last.")


class AlertPage(BaseModel):
    items: list[AlertOut] = Field(description="Newest first, by (starts_at, id).")
    next: str | None = Field(description="The next page's path and query; null on the last.")
