"""The scheduler's job table follows the feed list; polls skip a resting feed; the
`finsent sources` table and the scheduler's metrics say what happened."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import generate_latest

from finsent.cli.scheduler import health_rows, render_table
from sources.feeds import Feed
from sources.http import Fetched
from sources.metrics import SourceMetrics
from sources.neardup import NearDupIndex
from sources.poll import FeedState, PollContext
from sources.scheduler import FeedScheduler, ScheduleOptions, jitter_for
from storage.feeds import SourceHealthView, SourcePoll
from tests.sources_support import Memory, Sink

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)
RSS = (
    b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
    b"<item><title>Chipmaker shares soar</title><link>https://a.example/1</link></item>"
    b"</channel></rss>"
)


@pytest.fixture(autouse=True)
def _stop_schedulers(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every scheduler a test builds is shut down after it (their threads stop)."""
    built: list[FeedScheduler] = []
    original = FeedScheduler.__init__

    def init(self: FeedScheduler, *args: Any, **kw: Any) -> None:
        original(self, *args, **kw)
        built.append(self)

    monkeypatch.setattr(FeedScheduler, "__init__", init)
    yield
    for s in built:
        s.shutdown()


def context(fetch: Any, store: Memory, sink: Sink) -> PollContext:
    return PollContext(
        fetch=fetch,
        store=store,
        sink=sink,
        dedup=NearDupIndex(),
        lock=threading.Lock(),
        max_backoff_s=600,
        clock=lambda: NOW,
    )


def ok_fetch(url: str, **kw: Any) -> Fetched:
    return Fetched(url, 200, RSS, "application/rss+xml", None, None)


def feed(name: str, url: str = "https://a.example/rss", **kw: Any) -> Feed:
    return Feed(name=name, url=url, interval_s=kw.pop("interval_s", 60), **kw)


def test_apply_adds_changes_and_removes_jobs() -> None:
    s = FeedScheduler(context(ok_fetch, Memory(), Sink()), ScheduleOptions())
    assert s.apply([feed("a"), feed("b"), feed("c", enabled=False)]) == "2 feeds (added a, b)"
    jobs = {j.id: j for j in s._scheduler.get_jobs()}
    assert set(jobs) == {"feed:a", "feed:b"}
    s.states["a"] = FeedState(etag='"x"', failures=3)
    s.states["b"] = FeedState(etag='"y"')
    summary = s.apply([feed("a", url="https://moved.example/rss"), feed("b", interval_s=120)])
    assert summary == "2 feeds (changed a, b)"
    assert s.states["a"] == FeedState()  # a new URL forgets the old validators
    assert s.states["b"].etag == '"y"'
    assert s.apply([feed("b", interval_s=120)]) == "1 feeds (removed a)"
    assert [j.id for j in s._scheduler.get_jobs()] == ["feed:b"]
    assert s.apply([feed("b", interval_s=120)]) == "1 feeds"


def test_jobs_never_overlap_and_coalesce() -> None:
    s = FeedScheduler(context(ok_fetch, Memory(), Sink()), ScheduleOptions(misfire_grace_s=30))
    s.apply([feed("a")])
    (job,) = s._scheduler.get_jobs()
    assert (job.max_instances, job.coalesce, job.misfire_grace_time) == (1, True, 30)


def test_jitter_is_at_most_half_the_interval() -> None:
    assert jitter_for(feed("a", interval_s=10), 15) == 5
    assert jitter_for(feed("a", interval_s=600), 15) == 15


def test_a_resting_feed_is_not_polled() -> None:
    calls: list[str] = []

    def fetch(url: str, **kw: Any) -> Fetched:
        calls.append(url)
        return ok_fetch(url)

    store, sink = Memory(), Sink()
    s = FeedScheduler(context(fetch, store, sink), ScheduleOptions())
    s.apply([feed("a")])
    s.states["a"] = FeedState(failures=4, retry_at=NOW + timedelta(minutes=5))
    assert s.run_once("a") is None and calls == []
    s.states["a"].retry_at = NOW - timedelta(seconds=1)
    poll = s.run_once("a")
    assert poll is not None and poll.ok and poll.items_new == 1
    assert s.states["a"].failures == 0 and len(sink.sent) == 1
    assert s.run_once("gone") is None


def test_a_crashing_fetch_is_a_failed_poll_not_a_dead_scheduler() -> None:
    def fetch(url: str, **kw: Any) -> Fetched:
        raise RuntimeError("bug in a library")

    store = Memory()
    s = FeedScheduler(context(fetch, store, Sink()), ScheduleOptions())
    s.apply([feed("a")])
    poll = s.run_once("a")
    assert (
        poll is not None and not poll.ok and "RuntimeError: bug in a library" in (poll.error or "")
    )
    assert store.polls == [poll]


def test_a_poll_abandoned_at_a_stop_is_no_failure_and_nothing_runs_after_shutdown() -> None:
    from sources.errors import FetchStopped

    calls: list[str] = []

    def fetch(url: str, **kw: Any) -> Fetched:
        calls.append(url)
        raise FetchStopped("stopping")

    store = Memory()
    s = FeedScheduler(context(fetch, store, Sink()), ScheduleOptions())
    s.apply([feed("a")])
    poll = s.run_once("a")
    assert poll is not None and not poll.ok and poll.error == "stopping"
    assert store.polls == [] and s.states["a"] == FeedState()  # no failure, no rest
    s.shutdown()
    assert s.run_once("a") is None and len(calls) == 1  # a poll queued at shutdown


def test_a_failing_store_does_not_escape() -> None:
    class Broken(Memory):
        def record_poll(self, poll: SourcePoll) -> None:
            raise OSError("database down")

        def already_published(self, ids: list[str]) -> set[str]:
            raise OSError("database down")

    s = FeedScheduler(context(ok_fetch, Broken(), Sink()), ScheduleOptions())
    s.apply([feed("a")])
    poll = s.run_once("a")
    assert poll is not None and not poll.ok and "database down" in (poll.error or "")


def view(**kw: Any) -> SourceHealthView:
    base: dict[str, Any] = {
        "feed": "wire",
        "url": "https://a.example/rss",
        "last_fetch_at": NOW - timedelta(seconds=30),
        "last_success_at": NOW - timedelta(seconds=30),
        "last_error": None,
        "last_status": 200,
        "items_seen": 40,
        "items_new": 12,
        "items_duplicate": 3,
        "consecutive_failures": 0,
    }
    return SourceHealthView(**(base | kw))


def test_the_sources_table() -> None:
    rows = health_rows(
        [
            view(),
            view(
                feed="down",
                last_success_at=None,
                last_status=500,
                last_error="HTTP 500 Internal Server Error",
                consecutive_failures=3,
                retry_at=NOW + timedelta(minutes=4),
            ),
        ],
        NOW,
    )
    assert rows[0]["state"] == "ok" and rows[0]["last fetch"] == "30s ago"
    assert rows[1]["state"] == "failing" and rows[1]["next try"] == "in 240s"
    assert rows[1]["last success"] == "never"
    table = render_table(rows).splitlines()
    assert table[0].split()[:2] == ["feed", "state"]
    assert table[2].startswith("down ") and "HTTP 500 Internal Server Error" in table[2]


def test_metrics_count_polls_and_items() -> None:
    metrics = SourceMetrics()
    metrics.observe(
        SourcePoll(
            "wire", NOW, True, http_status=200, items_seen=5, items_new=2, items_duplicate=1
        ),
        0,
        now=NOW + timedelta(seconds=2),
    )
    metrics.observe(SourcePoll("wire", NOW, True, http_status=304), 0, now=NOW)
    metrics.observe(SourcePoll("wire", NOW, False, error="x"), 1, now=NOW)
    text = generate_latest(metrics.registry).decode()
    assert 'finsent_feed_polls_total{feed="wire",outcome="ok"} 1.0' in text
    assert 'finsent_feed_polls_total{feed="wire",outcome="not_modified"} 1.0' in text
    assert 'finsent_feed_polls_total{feed="wire",outcome="error"} 1.0' in text
    assert 'finsent_feed_items_total{feed="wire",kind="duplicate"} 1.0' in text
    assert 'finsent_feed_consecutive_failures{feed="wire"} 1.0' in text
    assert "finsent_feed_poll_seconds_count 3.0" in text
