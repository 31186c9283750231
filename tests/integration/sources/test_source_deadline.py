"""Feeds whose servers dribble their headers, polled by the real scheduler and fetcher
against servers on loopback: each poll ends at the fetch deadline, the other feeds are
still polled, and a stop ends the polls in flight at once. The store and the sink are
in memory (the database and the broker play no part here)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from sources.feeds import Feed
from sources.http import Fetcher, FetchLimits
from sources.neardup import NearDupIndex
from sources.poll import PollContext
from sources.scheduler import FeedScheduler, ScheduleOptions
from tests.integration.sources.feedserver import FeedServer, Reply
from tests.sources_support import Memory, Sink

UA = "finsent-test/1.0 (+tests)"
#: ~140 bytes of status line and headers at 0.05 s a byte: 7 s, no read waits 1 s.
DRIBBLE = Reply(200, b"<rss/>", {"Content-Type": "application/rss+xml"}, header_drip=0.05)


def loopback(host: str, port: int) -> list[str]:
    """Every ``*.test`` name is 127.0.0.1: feeds of as many hosts as names, each with
    its own turn, all served by the one test server."""
    assert host.endswith(".test") or host == "127.0.0.1", host
    return ["127.0.0.1"]


def url(server: FeedServer, host: str, path: str) -> str:
    return f"http://{host}.test:{server.port}{path}"


@pytest.fixture
def run_scheduler() -> Iterator[Callable[[float], tuple[FeedScheduler, Memory, threading.Event]]]:
    built: list[tuple[FeedScheduler, threading.Event]] = []

    def build(deadline: float) -> tuple[FeedScheduler, Memory, threading.Event]:
        stop = threading.Event()
        limits = FetchLimits(user_agent=UA, host_delay=0, read_timeout=1.0, deadline=deadline)
        memory = Memory()
        ctx = PollContext(
            fetch=Fetcher(limits, stop=stop, resolver=loopback).fetch,
            store=memory,
            sink=Sink(),
            dedup=NearDupIndex(),
            lock=threading.Lock(),
            max_backoff_s=1,
        )
        scheduler = FeedScheduler(ctx, ScheduleOptions(concurrency=4, jitter_s=0))
        built.append((scheduler, stop))
        return scheduler, memory, stop

    yield build
    for scheduler, stop in built:
        stop.set()
        scheduler.shutdown()


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout}s: {what}")


def slow_feeds(server: FeedServer, n: int) -> list[Feed]:
    for i in range(n):
        server.routes[f"/slow{i}"] = DRIBBLE
    return [
        Feed(f"slow{i}", url(server, f"slow{i}", f"/slow{i}"), 1.0, allow_private_network=True)
        for i in range(n)
    ]


def test_as_many_dribbling_feeds_as_threads_do_not_starve_the_others(
    feed_server: FeedServer, run_scheduler: Any
) -> None:
    scheduler, memory, _ = run_scheduler(1.5)
    slow = slow_feeds(feed_server, 4)
    scheduler.apply(slow)
    scheduler.start()
    wait_until(lambda: all(feed_server.hits(f"/slow{i}") for i in range(4)), 5, "4 slow polls")
    feed_server.serve_file("/good", "rss2.xml")
    added = time.monotonic()
    scheduler.apply(
        [*slow, Feed("good", url(feed_server, "good", "/good"), 60.0, allow_private_network=True)]
    )
    wait_until(lambda: any(p.feed == "good" and p.ok for p in memory.polls), 4, "the good feed")
    assert time.monotonic() - added < 4
    failed = [p for p in memory.polls if p.feed.startswith("slow")]
    assert failed and all(not p.ok and "gave up after 1.5s" in (p.error or "") for p in failed)


def test_a_stop_ends_the_polls_in_flight_within_a_second(
    feed_server: FeedServer, run_scheduler: Any
) -> None:
    scheduler, memory, stop = run_scheduler(60.0)
    scheduler.apply(slow_feeds(feed_server, 5))  # four in flight, one waiting for a thread
    scheduler.start()
    wait_until(
        lambda: len({r.path for r in feed_server.requests if r.path != "/robots.txt"}) >= 4,
        5,
        "4 polls in flight",
    )
    time.sleep(0.3)
    started = time.monotonic()
    stop.set()
    scheduler.shutdown()
    assert time.monotonic() - started < 1.5
    # a poll abandoned at a stop is no failure of its feed: nothing recorded; the fifth
    # feed, waiting for a thread, never started
    assert memory.polls == []
    assert len({r.path for r in feed_server.requests if r.path != "/robots.txt"}) == 4
