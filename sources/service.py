"""The running scheduler: its parts built from plain configuration, its reloads, and
its shutdown. ``finsent scheduler`` only builds a ``ServiceConfig`` and runs ``serve``."""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

from sqlalchemy import Engine

from core.errors import ConfigFileError
from sources.addresses import Resolver, system_resolver
from sources.feeds import Feed, load_feeds
from sources.http import Fetcher, FetchLimits
from sources.metrics import SourceMetrics
from sources.neardup import NearDupIndex
from sources.pending import RecordSink, Republisher, check_every
from sources.poll import FeedState, PollContext, Sink
from sources.scheduler import FeedScheduler, ScheduleOptions
from storage import feeds as feed_store
from storage.feeds import PublishedRecord, SourcePoll, record_source_poll

log = logging.getLogger(__name__)

PRUNE_EVERY_S = 6 * 3600.0


@dataclass(frozen=True, slots=True)
class ServiceConfig:
    feeds_file: Path
    limits: FetchLimits
    schedule: ScheduleOptions
    max_backoff_s: float
    dup_threshold: float
    dup_window_s: float
    dup_max_titles: int
    remember_days: float
    watch_interval_s: float
    republish_after_s: float = 120.0
    republish_attempts: int = 5


class PublishingSink(Sink, RecordSink, Protocol):
    """What the scheduler publishes with: items (polls) and records (re-publication)."""


class DatabaseStore:
    """The poll's store on the database (``storage.feeds`` and the health table). A
    remembered item with its record is pending: checked (and re-sent unless stored)
    ``republish_after_s`` after now."""

    def __init__(
        self,
        engine: Engine,
        republish_after_s: float = 120.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.engine = engine
        self.republish_after = timedelta(seconds=republish_after_s)
        self.clock = clock

    def already_published(self, ids: list[str]) -> set[str]:
        return feed_store.already_published(self.engine, ids)

    def remember(self, records: list[PublishedRecord]) -> None:
        check_at = self.clock() + self.republish_after
        feed_store.remember_published(
            self.engine,
            [replace(r, retry_at=check_at) if r.record is not None else r for r in records],
        )

    def record_poll(self, poll: SourcePoll) -> None:
        record_source_poll(self.engine, poll)


def file_fingerprint(path: Path) -> str | None:
    """What changes when the file's content does (None when it cannot be read)."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def load_index(engine: Engine, threshold: float, window_s: float, max_titles: int) -> NearDupIndex:
    """The near-duplicate memory, refilled with what was published in the window."""
    window = timedelta(seconds=window_s)
    index = NearDupIndex(threshold=threshold, window=window, max_entries=max_titles)
    since = datetime.now(UTC) - window
    for record in feed_store.recent_published(engine, since):
        assert record.title is not None and record.published_at is not None
        index.remember(record.id, record.title, record.published_at, record.duplicate_of)
    return index


def restore_states(engine: Engine) -> dict[str, FeedState]:
    """Each feed's validators and back-off as the last run left them."""
    return {
        name: FeedState(s.etag, s.last_modified, s.consecutive_failures, s.retry_at)
        for name, s in feed_store.feed_states(engine).items()
    }


class SchedulerService:
    """Everything ``finsent scheduler`` runs, started and stopped as one."""

    def __init__(
        self,
        config: ServiceConfig,
        engine: Engine,
        sink: PublishingSink,
        feeds: list[Feed],
        *,
        resolver: Resolver = system_resolver,
        stop: threading.Event | None = None,
        metrics: SourceMetrics | None = None,
    ) -> None:
        self.config, self.engine = config, engine
        self.stop = stop or threading.Event()
        self.reload_requested = threading.Event()
        self.fetcher = Fetcher(config.limits, resolver=resolver, stop=self.stop)
        index = load_index(engine, config.dup_threshold, config.dup_window_s, config.dup_max_titles)
        log.info(
            "near-duplicate memory: %d titles of the last %gs", len(index), config.dup_window_s
        )
        ctx = PollContext(
            fetch=self.fetcher.fetch,
            store=DatabaseStore(engine, config.republish_after_s),
            sink=sink,
            dedup=index,
            lock=threading.Lock(),
            max_backoff_s=config.max_backoff_s,
        )
        self.metrics = metrics or SourceMetrics()
        self.scheduler = FeedScheduler(
            ctx, config.schedule, restore_states(engine), on_poll=self.metrics.observe
        )
        self.scheduler.add_task("prune published items", self.prune, PRUNE_EVERY_S)
        self.republisher = Republisher(
            engine,
            sink,
            after_s=config.republish_after_s,
            max_attempts=config.republish_attempts,
        )
        self.scheduler.add_task(
            "re-publish items not stored",
            self.republisher.run,
            check_every(config.republish_after_s),
        )
        self._fingerprint = file_fingerprint(config.feeds_file)
        self.summary = self.scheduler.apply(feeds)

    def prune(self) -> None:
        before = datetime.now(UTC) - timedelta(days=self.config.remember_days)
        try:
            n = feed_store.forget_published_before(self.engine, before)
        except Exception as e:
            log.error("cannot prune published items: %s", e)
            return
        if n:
            log.info("forgot %d published item ids older than %s", n, before.date())

    def reload(self, why: str) -> None:
        """Re-read the feed file; a bad file is reported and the running feeds kept."""
        self._fingerprint = file_fingerprint(self.config.feeds_file)
        try:
            feeds = load_feeds(self.config.feeds_file)
        except ConfigFileError as e:
            log.error("feed file not reloaded (%s), keeping the current feeds: %s", why, e)
            return
        log.info("feed file reloaded (%s): %s", why, self.scheduler.apply(feeds))

    def serve(self) -> None:
        """Run until ``stop`` is set; reload on request or when the file changes."""
        self.scheduler.start()
        try:
            while not self.stop.wait(self.config.watch_interval_s):
                if self.reload_requested.is_set():
                    self.reload_requested.clear()
                    self.reload("SIGHUP")
                elif file_fingerprint(self.config.feeds_file) != self._fingerprint:
                    self.reload("file changed")
        finally:
            self.stop.set()
            self.scheduler.shutdown()
            self.fetcher.close()
