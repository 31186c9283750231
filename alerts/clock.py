"""The rules' clock on event time. Pure: plain times in, the points to evaluate out.

Buckets hold items by their ``published_at`` (event time). A bucket is evaluated once
the clock has passed its end by the allowed lateness (``FINSENT_ALERTS_SETTLE``), so
items that arrive within it are in their bucket first; items that arrive later are
counted as late (``storage.alerts.count_late``).

- Wall clock: the clock is ``now``.
- Data clock (replays, backtests, the demo): the clock is a watermark, as Kafka Streams
  and Flink keep per partition: for every source that stored something within the last
  ``idle`` seconds, its newest event time; the oldest of those (every source idle: the
  newest event of all). One stray item with a current time from another source does not
  drag the clock past a replay that is still going on.

A data-clock round evaluates every bucket edge the watermark passed since the last
round, oldest first (at most ``MAX_CATCH_UP``; the rest next round), and never goes
back: a watermark behind what was evaluated leaves the clock where it is (the round
evaluates that point again). The only restart is when the stored data went back (the
newest stored item is older than what was evaluated: an emptied or new database);
then, as on the very first round, it starts at the oldest bucket with data, or the
rules' longest span (window + baseline) before the watermark if that is later.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from alerts.config import BUCKET_S

#: On the data clock, the most bucket steps one round catches up (the rest: next round).
MAX_CATCH_UP = 120
BUCKET = timedelta(seconds=BUCKET_S)


@dataclass(frozen=True, slots=True)
class EventTimes:
    """What the data clock reads: the newest event time of every source that stored
    something recently, the newest of all, and the oldest bucket with data."""

    active: Mapping[str, datetime] = field(default_factory=dict)
    newest: datetime | None = None
    oldest_bucket: datetime | None = None


def bucket_edge(t: datetime) -> datetime:
    """The start of the bucket ``t`` falls in: every bucket before it ended by ``t``."""
    return datetime.fromtimestamp(int(t.timestamp() // BUCKET_S) * BUCKET_S, UTC)


def watermark(
    active: Mapping[str, datetime], newest: datetime | None, lateness: timedelta
) -> datetime | None:
    """How far event time has surely got, less the allowed lateness: the oldest of the
    active sources' newest event times (none active: the newest of all); None without
    data."""
    if active:
        return min(active.values()) - lateness
    return None if newest is None else newest - lateness


def steps(previous: datetime, target: datetime, max_steps: int) -> list[datetime]:
    """Every bucket edge after ``previous`` up to ``target``, oldest first, at most
    ``max_steps``."""
    if target <= previous:
        return []
    count = int((target - previous) / BUCKET)
    return [previous + i * BUCKET for i in range(1, min(count, max_steps) + 1)]


def data_clock_points(
    times: EventTimes,
    previous: datetime | None,
    lateness: timedelta,
    span: timedelta,
    max_steps: int = MAX_CATCH_UP,
) -> list[datetime]:
    """The points (each the ``as_of`` of one evaluation: the end of the buckets it sees)
    a data-clock round evaluates, oldest first; empty while no bucket is closed yet.

    ``previous``: what was evaluated up to (None before the first round, or when the
    data ``went_back``); ``span``: the rules' longest window + baseline. A watermark
    behind ``previous`` evaluates ``previous`` again."""
    mark = watermark(times.active, times.newest, lateness)
    if mark is None or times.oldest_bucket is None:
        return []
    target = bucket_edge(mark)
    if previous is None:
        return steps(max(times.oldest_bucket, target - span), target, max_steps)
    return steps(previous, target, max_steps) or [previous]


def went_back(times: EventTimes, previous: datetime | None) -> bool:
    """The stored data went back behind what was evaluated (an emptied or new database):
    the data clock starts over (``previous`` counts as None)."""
    return previous is not None and times.newest is not None and times.newest < previous
