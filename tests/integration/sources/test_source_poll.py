"""One poll at a time against real services: the HTTP server on 127.0.0.1, PostgreSQL
(published items, source health) and the embedded broker (what reached news.raw is
counted by consuming it)."""

from __future__ import annotations

import ipaddress
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import Engine, select

from sources.feeds import Feed
from sources.http import Fetcher, FetchLimits
from sources.neardup import NearDupIndex
from sources.poll import FeedState, PollContext, poll_feed
from sources.scheduler import FeedScheduler, ScheduleOptions
from sources.service import DatabaseStore
from storage import source_health
from storage.feeds import SourceHealthView, SourcePoll
from storage.models import PublishedItemRow
from streams.publish import Publisher
from streams.records import NewsItem
from streams.topics import ensure_topics
from testkit.processes import consume_all
from tests.integration.sources.feedserver import FEEDS, FeedServer, Reply, Seen, gzip_bomb, rss


@dataclass
class Harness:
    server: FeedServer
    engine: Engine
    bootstrap: str
    topic: str
    ctx: PollContext
    states: dict[str, FeedState]

    def feed(self, name: str, path: str, **kw: Any) -> Feed:
        kw.setdefault("allow_private_network", True)
        return Feed(name=name, url=self.server.url(path), interval_s=kw.pop("interval_s", 60), **kw)

    def poll(self, feed: Feed) -> SourcePoll:
        return poll_feed(feed, self.states.setdefault(feed.name, FeedState()), self.ctx)

    def health(self, name: str) -> SourceHealthView:
        (view,) = [v for v in source_health(self.engine) if v.feed == name]
        return view

    def published(self, expect: int | None = None) -> list[NewsItem]:
        records = consume_all(self.bootstrap, self.topic, expect=expect, idle=2.0, timeout=30)
        items = [NewsItem.model_validate(json.loads(v)) for _, v in records if v is not None]
        assert [k for k, _ in records] == [i.id.encode() for i in items]  # keyed by id
        return items


@pytest.fixture
def harness(feed_server: FeedServer, db: Engine, broker: Any, topic_name: str) -> Iterator[Harness]:
    ensure_topics(broker.bootstrap_servers, [topic_name], partitions=1)
    publisher = Publisher(broker.bootstrap_servers, topic_name, timeout=10)
    trusted = (ipaddress.ip_network("127.0.0.1/32"),)
    fetcher = Fetcher(
        FetchLimits(
            user_agent="finsent-test/1.0",
            host_delay=0,
            connect_timeout=2,
            read_timeout=1,
            deadline=5,
            max_bytes=2_000_000,
            allowed_networks=trusted,
        )
    )
    ctx = PollContext(
        fetch=fetcher.fetch,
        store=DatabaseStore(db),
        sink=publisher,
        dedup=NearDupIndex(threshold=0.6),
        lock=threading.Lock(),
        max_backoff_s=60,
    )
    yield Harness(feed_server, db, broker.bootstrap_servers, topic_name, ctx, {})
    fetcher.close()
    publisher.close()


def test_new_items_reach_kafka_once(harness: Harness) -> None:
    harness.server.serve_file("/rss2", "rss2.xml")
    harness.server.serve_file("/atom", "atom.xml", "application/atom+xml")
    harness.server.serve_file("/rss1", "rss1.xml", "application/rdf+xml")
    feeds = [harness.feed(n, f"/{n}") for n in ("rss2", "atom", "rss1")]
    for _ in range(2):  # the second round finds nothing new
        for feed in feeds:
            assert harness.poll(feed).ok
    items = harness.published()
    assert len(items) == 7 and len({i.id for i in items}) == 7
    assert {i.source for i in items} == {"rss2", "atom", "rss1"}
    for name, n in (("rss2", 3), ("atom", 2), ("rss1", 2)):
        h = harness.health(name)
        assert (h.items_seen, h.items_new, h.items_duplicate, h.last_status) == (2 * n, n, 0, 200)
        assert h.last_success_at == h.last_fetch_at and h.consecutive_failures == 0
    with harness.engine.connect() as conn:
        assert len(conn.scalars(select(PublishedItemRow.id)).all()) == 7


def test_an_unchanged_feed_costs_a_304(harness: Harness) -> None:
    body = (FEEDS / "rss2.xml").read_bytes()

    def answer(seen: Seen) -> Reply:
        if seen.headers.get("if-none-match") == '"abc"':
            return Reply(304, b"")
        return Reply(200, body, {"ETag": '"abc"', "Content-Type": "application/rss+xml"})

    harness.server.routes["/feed"] = answer
    feed = harness.feed("etag", "/feed")
    assert harness.poll(feed).http_status == 200
    assert harness.health("etag").etag == '"abc"'
    second = harness.poll(feed)
    assert second.ok and second.http_status == 304
    h = harness.health("etag")
    assert (h.last_status, h.items_new, h.etag) == (304, 3, '"abc"')
    assert harness.server.hits("/feed")[1].headers["if-none-match"] == '"abc"'
    assert len(harness.published()) == 3


BOMB = gzip_bomb(50_000_000)


@pytest.mark.parametrize(
    ("reply", "error", "status"),
    [
        (
            Reply(200, b'<rss version="2.0"><channel><title>x</ti<<< &&& </rss'),
            "malformed feed",
            200,
        ),
        (
            Reply(
                200,
                b"<!doctype html><html><body><h1>Welcome</h1></body></html>",
                {"Content-Type": "text/html"},
            ),
            "an HTML page (content type text/html)",
            200,
        ),
        (Reply(500, b"boom"), "HTTP 500", 500),
        (Reply(200, b"<rss/>", delay=3), "timed out", None),
        (Reply(302, b"", {"Location": "/feed"}), "redirect loop", None),
        (Reply(200, b"<rss>" + b" " * 2_500_000 + b"</rss>"), "over the 2,000,000 cap", None),
        (Reply(200, BOMB, {"Content-Encoding": "gzip"}), "over 2,000,000 bytes (decoded)", None),
        (Reply(302, b"", {"Location": "http://169.254.169.254/latest/"}), "redirect hop 1", None),
    ],
    ids=[
        "malformed-xml",
        "html",
        "http-500",
        "slow",
        "redirect-loop",
        "too-big",
        "gzip-bomb",
        "metadata-redirect",
    ],
)
def test_hostile_answers_fail_the_poll_visibly(
    harness: Harness, reply: Reply, error: str, status: int | None
) -> None:
    harness.server.routes["/feed"] = reply
    private_ok = "169.254" not in reply.headers.get("Location", "")
    feed = harness.feed("hostile", "/feed", allow_private_network=private_ok)
    poll = harness.poll(feed)
    assert not poll.ok
    h = harness.health("hostile")
    assert error in (h.last_error or "")
    assert h.last_status == status and h.consecutive_failures == 1
    assert h.last_success_at is None and h.items_new == 0
    assert harness.published() == []


def test_odd_but_readable_feeds_are_read(harness: Harness) -> None:
    latin = rss([{"title": "Société Générale shares slip", "link": "https://x.example/sg"}])
    harness.server.routes["/latin"] = Reply(
        200,
        latin.decode().encode("latin-1"),
        {"Content-Type": "application/rss+xml; charset=utf-8"},
    )
    harness.server.routes["/plain"] = Reply(
        200, (FEEDS / "rss1.xml").read_bytes(), {"Content-Type": "text/plain"}
    )
    harness.server.routes["/bare"] = Reply(
        200,
        rss(
            [
                {"title": "Linkless and dateless headline"},
                {
                    "title": "<script>alert(1)</script>Chipmaker <b>soars</b>",
                    "link": "https://x.example/c",
                },
                {"title": "Stocks " * 150_000},
                {"description": "an entry without any title"},
            ]
        ),
    )
    for path in ("/latin", "/plain", "/bare"):
        assert harness.poll(harness.feed(path.strip("/"), path)).ok
    titles = {i.title: i for i in harness.published()}
    assert "Société Générale shares slip" in titles
    assert "Tariff talks stall as negotiators leave Geneva" in titles
    bare = titles["Linkless and dateless headline"]
    assert bare.url is None and bare.published_at == bare.fetched_at
    assert "Chipmaker soars" in titles
    assert not any("<" in t or len(t) > 1000 for t in titles)
    h = harness.health("bare")
    assert (h.items_seen, h.items_new, h.items_rejected, h.last_error) == (4, 2, 2, None)


def test_a_failing_feed_backs_off_and_recovers(harness: Harness) -> None:
    calls = {"n": 0}
    body = (FEEDS / "rss2.xml").read_bytes()

    def flaky(seen: Seen) -> Reply:
        calls["n"] += 1
        return Reply(500, b"down") if calls["n"] <= 2 else Reply(200, body)

    harness.server.routes["/flaky"] = flaky
    feed = harness.feed("flaky", "/flaky", interval_s=1)
    scheduler = FeedScheduler(harness.ctx, ScheduleOptions(), harness.states)
    scheduler.apply([feed])  # not started: run_once is called by hand
    assert not scheduler.run_once("flaky").ok  # type: ignore[union-attr]
    assert harness.health("flaky").retry_at is None  # one failure: no rest yet
    assert not scheduler.run_once("flaky").ok  # type: ignore[union-attr]
    h = harness.health("flaky")
    assert h.consecutive_failures == 2 and h.retry_at is not None
    assert scheduler.run_once("flaky") is None  # resting: no request
    assert calls["n"] == 2
    time.sleep(max(0.0, (h.retry_at - h.last_fetch_at).total_seconds()) + 0.2)  # type: ignore[operator]
    assert scheduler.run_once("flaky").ok  # type: ignore[union-attr]
    scheduler.shutdown()
    h = harness.health("flaky")
    assert (h.consecutive_failures, h.retry_at, h.last_error, h.items_new) == (0, None, None, 3)
    assert len(harness.published()) == 3


def test_overlapping_feeds_publish_an_item_once(harness: Harness) -> None:
    harness.server.serve_file("/one", "rss2.xml")
    harness.server.serve_file("/two", "rss2.xml")
    assert harness.poll(harness.feed("one", "/one")).items_new == 3
    assert harness.poll(harness.feed("two", "/two")).items_new == 0
    assert len(harness.published()) == 3


def test_unacknowledged_items_are_sent_again(harness: Harness) -> None:
    harness.server.routes["/feed"] = Reply(200, (FEEDS / "rss2.xml").read_bytes(), {"ETag": '"e1"'})
    real = harness.ctx.sink

    class HalfDeaf:
        """Sends everything, reports only the first item acknowledged."""

        def send_batch(self, items: list[NewsItem]) -> list[str]:
            return real.send_batch(items)[:1]

    feed = harness.feed("deaf", "/feed")
    first = poll_feed(
        feed, harness.states.setdefault("deaf", FeedState()), _with_sink(harness.ctx, HalfDeaf())
    )
    assert not first.ok and "acknowledged 1 of 3" in (first.error or "")
    h = harness.health("deaf")
    assert h.etag is None  # not stored: the next poll must fetch the whole feed again
    second = harness.poll(feed)
    assert second.ok and second.items_new == 2
    assert harness.server.hits("/feed")[1].headers.get("if-none-match") is None
    items = harness.published()
    assert len(items) == 3 + 2  # the two unacknowledged were really sent: at least once
    assert len({i.id for i in items}) == 3


def _with_sink(ctx: PollContext, sink: Any) -> PollContext:
    from dataclasses import replace

    return replace(ctx, sink=sink)


def test_three_outlets_one_story(harness: Harness) -> None:
    stories = {
        "wire-a": "Oil prices jump as OPEC cuts output - Wire A",
        "wire-b": "Oil Prices Jump As OPEC Cuts Output | Wire B",
        "wire-c": "Oil prices jump as OPEC cuts its output",
    }
    own = {
        "wire-a": "Harbor bakery chain expands to twelve cities",
        "wire-b": "Regional airline orders forty new jets",
        "wire-c": "Insurer posts surprise loss on storm claims",
    }
    for name, title in stories.items():
        harness.server.routes[f"/{name}"] = Reply(
            200,
            rss(
                [
                    {"title": title, "link": f"https://{name}.example/oil"},
                    {
                        "title": own[name],
                        "link": f"https://{name}.example/own",
                    },
                ]
            ),
        )
        harness.poll(harness.feed(name, f"/{name}"))
    items = {i.url: i for i in harness.published()}
    first = items["https://wire-a.example/oil"]
    assert first.duplicate_of is None
    assert items["https://wire-b.example/oil"].duplicate_of == first.id
    assert items["https://wire-c.example/oil"].duplicate_of == first.id
    own_items = [i for u, i in items.items() if u.endswith("/own")]
    assert len(own_items) == 3 and all(i.duplicate_of is None for i in own_items)
    assert [harness.health(n).items_duplicate for n in stories] == [0, 1, 1]
    with harness.engine.connect() as conn:
        links = dict(conn.execute(select(PublishedItemRow.id, PublishedItemRow.duplicate_of)).all())
    assert links[items["https://wire-c.example/oil"].id] == first.id


def test_a_busy_server_is_left_alone_for_as_long_as_it_asks(harness: Harness) -> None:
    harness.server.routes["/busy"] = Reply(429, b"slow down", {"Retry-After": "600"})
    poll = harness.poll(harness.feed("busy", "/busy", interval_s=30))
    assert not poll.ok and poll.http_status == 429 and poll.retry_at is not None
    rest = (poll.retry_at - poll.fetched_at).total_seconds()
    assert 599 <= rest <= 601  # one failure alone would not rest at all
    assert harness.health("busy").retry_at == poll.retry_at


def test_a_database_outage_fails_polls_and_loses_nothing(
    harness: Harness, pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    from dataclasses import replace

    from storage.db import EngineOptions, make_engine
    from tests.netproxy import CuttableProxy

    proxy, through = CuttableProxy.for_database(pg_url)
    engine = make_engine(through, EngineOptions(connect_retries=0, connect_timeout=2))
    ctx = replace(harness.ctx, store=DatabaseStore(engine))
    harness.server.serve_file("/feed", "rss2.xml")
    feed = harness.feed("outage", "/feed")
    state = FeedState()
    try:
        proxy.cut()
        poll = poll_feed(feed, state, ctx)
        assert not poll.ok and (poll.error or "").startswith("database: ")
        assert "cannot record its health" in caplog.text
        assert "Traceback" not in caplog.text
        assert harness.published() == []  # nothing sent that could not be remembered
        proxy.restore()
        poll = poll_feed(feed, state, ctx)
        assert poll.ok and poll.items_new == 3
        assert poll_feed(feed, state, ctx).items_new == 0
    finally:
        engine.dispose()
        proxy.close()
    assert len(harness.published()) == 3
    h = harness.health("outage")
    assert h.consecutive_failures == 0 and h.items_new == 3  # the failed poll left no row
