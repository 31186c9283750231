"""Plain data that goes into and comes out of ``storage``: no sessions, no ORM objects."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


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
    duplicate_of: str | None = None

    @property
    def polarity(self) -> float:
        return self.p_positive - self.p_negative


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


@dataclass(frozen=True, slots=True)
class AlertView:
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
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SourcePoll:
    """The outcome of one poll of a feed, as the scheduler reports it."""

    feed: str
    fetched_at: datetime
    ok: bool
    url: str | None = None
    http_status: int | None = None
    error: str | None = None
    items_seen: int = 0
    items_new: int = 0
    items_duplicate: int = 0
    items_rejected: int = 0
    #: The validators of a 200 response (stored then; a 304 keeps the stored ones).
    etag: str | None = None
    last_modified: str | None = None
    #: When a failing feed may be polled again (None: at its next interval).
    retry_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class SourceHealthView:
    feed: str
    url: str | None
    last_fetch_at: datetime | None
    last_success_at: datetime | None
    last_error: str | None
    last_status: int | None
    items_seen: int
    items_new: int
    items_duplicate: int
    consecutive_failures: int
    items_rejected: int = 0
    etag: str | None = None
    last_modified: str | None = None
    retry_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class AgentCounts:
    """What one agent of one worker process has counted since the process started."""

    agent: str
    processed: int = 0
    dead_lettered: int = 0
    retried: int = 0
    batches: int = 0
