"""One poll of one feed: fetch, parse, normalise, drop what was published, mark
syndicated copies, publish, remember, report. The stores and the sink are injected.

Order matters for "never twice, never lost":

1. items whose id is in ``published_items`` are dropped (a restart, an overlapping
   feed);
2. the rest are checked against the near-duplicate memory (a syndicated copy gets
   ``duplicate_of`` = the first report's id);
3. they are sent to ``news.raw`` and waited for (acks=all);
4. only the acknowledged ones are remembered in ``published_items``, as pending, with
   the record sent (``sources.pending`` re-sends one the worker has not stored
   in time: a broker may lose what it acknowledged); the feed's validators (ETag /
   Last-Modified) are stored only when every item was acknowledged, so an
   unacknowledged item is fetched and sent again at the next poll.

Steps 1-4 run under one lock per scheduler, so two feeds carrying the same link in
the same second publish it once. The titles' MinHash signatures are computed before the
lock is taken; under it each title costs a bounded look-up (``NearDupIndex``). A crash
between 3 and 4 republishes at most one poll's items; the worker's idempotent storage
absorbs them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sources.backoff import retry_at
from sources.errors import FetchStopped, SourceError
from sources.feeds import Feed
from sources.http import Fetched
from sources.neardup import NearDupIndex, Signature
from sources.normalise import NotAFeed, normalise_feed, parse_feed
from storage.exceptions import StorageError
from storage.feeds import PublishedRecord, SourcePoll
from streams.records import NewsItem

log = logging.getLogger(__name__)


class Store(Protocol):
    def already_published(self, ids: list[str]) -> set[str]: ...
    def remember(self, records: list[PublishedRecord]) -> None: ...
    def record_poll(self, poll: SourcePoll) -> None: ...


class Sink(Protocol):
    def send_batch(self, items: list[NewsItem]) -> list[str]: ...


class Fetch(Protocol):
    def __call__(
        self,
        url: str,
        *,
        allow_private: bool,
        allow_ports: tuple[int, ...],
        etag: str | None,
        last_modified: str | None,
    ) -> Fetched: ...


@dataclass(slots=True)
class FeedState:
    """What the scheduler keeps per feed between polls (restored from source health)."""

    etag: str | None = None
    last_modified: str | None = None
    failures: int = 0
    retry_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class PollContext:
    fetch: Fetch
    store: Store
    sink: Sink
    dedup: NearDupIndex
    lock: threading.Lock
    max_backoff_s: float
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)


def poll_feed(feed: Feed, state: FeedState, ctx: PollContext) -> SourcePoll:
    """Poll ``feed`` once; update ``state``; return (and record) what happened.

    Never raises for anything a feed, the network, the broker or the database can do.
    A poll abandoned because the scheduler stops is neither recorded nor counted as a
    failure (the feed is polled as due after the restart).
    """
    now = ctx.clock()
    try:
        poll = _poll(feed, state, ctx, now)
    except FetchStopped:  # the scheduler is stopping: not the feed's failure, not recorded
        log.info("feed %s: poll abandoned, stopping", feed.name)
        return SourcePoll(feed=feed.name, fetched_at=now, ok=False, url=feed.url, error="stopping")
    except SourceError as e:
        poll = _failed(feed, state, ctx, now, str(e), e.status, e.retry_after)
    except StorageError as e:  # an outage: one line, no traceback per poll
        poll = _failed(feed, state, ctx, now, f"database: {e}", None)
    except Exception as e:  # a bug or an outage must not kill the scheduler
        log.exception("feed %s: poll failed", feed.name)
        poll = _failed(feed, state, ctx, now, f"{type(e).__name__}: {e}", None)
    try:
        ctx.store.record_poll(poll)
    except Exception as e:
        log.error("feed %s: cannot record its health: %s", feed.name, e)
    return poll


def _failed(
    feed: Feed,
    state: FeedState,
    ctx: PollContext,
    now: datetime,
    error: str,
    status: int | None,
    retry_after: float | None = None,
) -> SourcePoll:
    state.failures += 1
    state.retry_at = retry_at(state.failures, feed.interval_s, ctx.max_backoff_s, now)
    if retry_after:  # the server said when (429, 503): never sooner than that
        asked = now + timedelta(seconds=retry_after)
        state.retry_at = max(state.retry_at or asked, asked)
    log.warning(
        "feed %s: %s (failure %d%s)",
        feed.name,
        error,
        state.failures,
        f", next try after {state.retry_at:%H:%M:%S}" if state.retry_at else "",
    )
    return SourcePoll(
        feed=feed.name,
        fetched_at=now,
        ok=False,
        url=feed.url,
        http_status=status,
        error=error[:1000],
        retry_at=state.retry_at,
    )


def _poll(feed: Feed, state: FeedState, ctx: PollContext, now: datetime) -> SourcePoll:
    fetched = ctx.fetch(
        feed.url,
        allow_private=feed.allow_private_network,
        allow_ports=feed.allow_ports,
        etag=state.etag,
        last_modified=state.last_modified,
    )
    if fetched.not_modified:
        state.failures, state.retry_at = 0, None
        log.info("feed %s: not modified", feed.name)
        return SourcePoll(feed=feed.name, fetched_at=now, ok=True, url=feed.url, http_status=304)
    try:
        parsed = parse_feed(fetched.body, url=fetched.url, content_type=fetched.content_type)
    except NotAFeed as e:
        raise SourceError(str(e), fetched.status) from None
    if parsed.warning:
        log.info("feed %s: parsed despite %s", feed.name, parsed.warning[:200])
    normalised = normalise_feed(
        parsed, source=feed.name, fetched_at=now, topic_hints=feed.topics, lang=feed.lang
    )
    for reason in normalised.rejected[:5]:
        log.info("feed %s: refused %s", feed.name, reason)
    items = sorted(normalised.items, key=lambda i: (i.published_at, i.id))
    signatures = {i.id: ctx.dedup.signature_of(i.title) for i in items}  # outside the lock
    with ctx.lock:
        known = ctx.store.already_published([i.id for i in items])
        fresh = [_mark(i, ctx.dedup, now, signatures[i.id]) for i in items if i.id not in known]
        acked = set(ctx.sink.send_batch(fresh)) if fresh else set()
        sent = [i for i in fresh if i.id in acked]
        ctx.store.remember(
            [
                PublishedRecord(i.id, feed.name, i.title, i.duplicate_of, record=i.to_json())
                for i in sent
            ]
        )
    duplicates = sum(1 for i in sent if i.duplicate_of is not None)
    seen = len(parsed.entries)
    if len(sent) < len(fresh):
        error = (
            f"the broker acknowledged {len(sent)} of {len(fresh)} new items; "
            "the rest are sent again at the next poll"
        )
        return replace(
            _failed(feed, state, ctx, now, error, fetched.status),
            items_seen=seen,
            items_new=len(sent),
            items_duplicate=duplicates,
            items_rejected=len(normalised.rejected),
        )
    state.failures, state.retry_at = 0, None
    state.etag, state.last_modified = fetched.etag, fetched.last_modified
    log.info(
        "feed %s: %d entries, %d new (%d syndicated copies), %d refused",
        feed.name,
        seen,
        len(sent),
        duplicates,
        len(normalised.rejected),
    )
    return SourcePoll(
        feed=feed.name,
        fetched_at=now,
        ok=True,
        url=feed.url,
        http_status=fetched.status,
        etag=fetched.etag,
        last_modified=fetched.last_modified,
        items_seen=seen,
        items_new=len(sent),
        items_duplicate=duplicates,
        items_rejected=len(normalised.rejected),
    )


def _mark(item: NewsItem, dedup: NearDupIndex, now: datetime, signature: Signature) -> NewsItem:
    """The item with ``duplicate_of`` set when it copies a story seen in the window."""
    root = dedup.check(item.id, item.title, now, signature)
    return item.model_copy(update={"duplicate_of": root}) if root is not None else item
