"""Prometheus metrics of the feed scheduler, in a registry of their own.

- ``finsent_feed_polls_total{feed, outcome}``: polls by outcome (ok, not_modified, error);
- ``finsent_feed_items_total{feed, kind}``: entries seen, new (published), duplicate
  (syndicated copies among the new), refused;
- ``finsent_feed_consecutive_failures{feed}``: 0 for a healthy feed;
- ``finsent_feed_poll_seconds``: how long a poll took, fetch to acknowledgement.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from storage.feeds import SourcePoll

POLL_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


@dataclass
class SourceMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    polls: Counter = field(init=False)
    items: Counter = field(init=False)
    failures: Gauge = field(init=False)
    poll_seconds: Histogram = field(init=False)

    def __post_init__(self) -> None:
        r = self.registry
        self.polls = Counter(
            "finsent_feed_polls", "Polls of a feed by outcome.", ["feed", "outcome"], registry=r
        )
        self.items = Counter(
            "finsent_feed_items",
            "Feed entries seen, new (published), duplicate (syndicated copies), refused.",
            ["feed", "kind"],
            registry=r,
        )
        self.failures = Gauge(
            "finsent_feed_consecutive_failures",
            "Consecutive failed polls of a feed.",
            ["feed"],
            registry=r,
        )
        self.poll_seconds = Histogram(
            "finsent_feed_poll_seconds",
            "Seconds one poll took, fetch to the broker's acknowledgement.",
            buckets=POLL_BUCKETS,
            registry=r,
        )

    def observe(self, poll: SourcePoll, failures: int, now: datetime | None = None) -> None:
        outcome = "error" if not poll.ok else "not_modified" if poll.http_status == 304 else "ok"
        self.polls.labels(poll.feed, outcome).inc()
        for kind, n in (
            ("seen", poll.items_seen),
            ("new", poll.items_new),
            ("duplicate", poll.items_duplicate),
            ("refused", poll.items_rejected),
        ):
            if n:
                self.items.labels(poll.feed, kind).inc(n)
        self.failures.labels(poll.feed).set(failures)
        elapsed = ((now or datetime.now(UTC)) - poll.fetched_at).total_seconds()
        self.poll_seconds.observe(max(0.0, elapsed))
