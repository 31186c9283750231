"""Time-bucket arithmetic: pure functions on UTC epochs, shared by the storage modules."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

#: Bucket widths kept in ``topic_buckets``; any resolution that is a multiple of one of
#: them can be served. Days are UTC days.
STORED_WIDTHS: tuple[int, ...] = (60, 3600, 86400)

#: Resolutions the dashboard and the API offer, in seconds.
RESOLUTIONS: dict[str, int] = {"1min": 60, "5min": 300, "1h": 3600, "1d": 86400}

#: A company's series share ``topic_buckets`` with the topics under this prefix (a
#: topic name cannot hold ":"), so bucket upserts, series reads, alert rules and the
#: dashboard's topic page serve a company as they serve a topic.
ENTITY_PREFIX = "entity:"


def require_aware(value: datetime, name: str) -> datetime:
    """The value in UTC; a naive datetime is an error, not a guess."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name}={value.isoformat()} has no time zone; give an aware datetime")
    return value.astimezone(UTC)


def floor_time(value: datetime, width_s: int) -> datetime:
    """Start of the ``width_s`` bucket holding ``value`` (aligned to the Unix epoch, UTC)."""
    epoch = int(require_aware(value, "time").timestamp() // width_s) * width_s
    return datetime.fromtimestamp(epoch, UTC)


def source_width(resolution_s: int) -> int:
    """The largest stored width that divides ``resolution_s``."""
    if resolution_s <= 0:
        raise ValueError(f"resolution must be positive, got {resolution_s}s")
    for width in sorted(STORED_WIDTHS, reverse=True):
        if resolution_s % width == 0:
            return width
    raise ValueError(
        f"resolution {resolution_s}s is not a multiple of a stored width {STORED_WIDTHS}"
    )


def grid(start: datetime, end: datetime, resolution_s: int) -> list[datetime]:
    """Bucket starts covering [start, end): from floor(start) up to the last one before end."""
    start, end = require_aware(start, "start"), require_aware(end, "end")
    if end <= start:
        raise ValueError(f"end {end.isoformat()} is not after start {start.isoformat()}")
    t, stop = int(floor_time(start, resolution_s).timestamp()), end.timestamp()
    out = []
    while t < stop:
        out.append(datetime.fromtimestamp(t, UTC))
        t += resolution_s
    return out


@dataclass(slots=True)
class Counter:
    n_negative: int = 0
    n_neutral: int = 0
    n_positive: int = 0
    polarity_sum: float = 0.0

    def add(self, label: str, polarity: float) -> None:
        if label == "negative":
            self.n_negative += 1
        elif label == "neutral":
            self.n_neutral += 1
        elif label == "positive":
            self.n_positive += 1
        else:
            raise ValueError(f"unknown label {label!r}")
        self.polarity_sum += polarity


BucketKey = tuple[str, int, datetime]


def bucket_increments(
    rows: Iterable[tuple[Iterable[str], datetime, str, float]],
    widths: Iterable[int] = STORED_WIDTHS,
) -> dict[BucketKey, Counter]:
    """Sum (topics, published_at, label, polarity) rows into per-bucket increments."""
    widths = tuple(widths)
    out: dict[BucketKey, Counter] = defaultdict(Counter)
    for topics, published_at, label, polarity in rows:
        for width in widths:
            start = floor_time(published_at, width)
            for topic in set(topics):
                out[(topic, width, start)].add(label, polarity)
    return dict(out)


def entity_key(entity_id: str) -> str:
    """The series key of a company: ``entity:AAPL``."""
    return ENTITY_PREFIX + entity_id


def key_entity(key: str) -> str | None:
    """The company a series key is about; None for a topic."""
    return key[len(ENTITY_PREFIX) :] if key.startswith(ENTITY_PREFIX) else None
