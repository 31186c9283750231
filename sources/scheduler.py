"""APScheduler 3 around ``poll_feed``: one interval job per enabled feed.

Each job has ``max_instances=1`` (a slow feed never overlaps itself), ``coalesce``
(polls missed while the process was busy or asleep run once, not in a burst), a misfire
grace time and jitter (feeds added together do not fire together). A failing feed is
skipped until its back-off has passed. ``apply`` swaps the feed list in place (what a
reload does): new feeds get a job, removed or disabled ones lose it, a changed one is
rescheduled (and forgets its validators when its URL changed).
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from sources.feeds import Feed
from sources.poll import FeedState, PollContext, poll_feed
from storage.feeds import SourcePoll

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ScheduleOptions:
    concurrency: int = 4
    jitter_s: float = 15.0
    misfire_grace_s: float = 60.0


def jitter_for(feed: Feed, jitter_s: float) -> float:
    """The jitter of a feed's job: the setting, at most half the interval."""
    return max(0.0, min(jitter_s, feed.interval_s / 2))


class FeedScheduler:
    def __init__(
        self,
        ctx: PollContext,
        options: ScheduleOptions,
        states: dict[str, FeedState] | None = None,
        on_poll: Callable[[SourcePoll, int], None] | None = None,
    ) -> None:
        self.ctx, self.options = ctx, options
        self.states: dict[str, FeedState] = dict(states or {})
        self.feeds: dict[str, Feed] = {}
        self.on_poll = on_poll
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._grace = max(1, round(options.misfire_grace_s))
        self._scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(options.concurrency)},
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": self._grace,
            },
            timezone=UTC,
        )
        # Started paused: jobs go straight into the job store (so replacing and removing
        # them behaves the same before and after ``start``) and none runs until then.
        self._scheduler.start(paused=True)

    def start(self) -> None:
        """Let the jobs run."""
        self._scheduler.resume()

    def shutdown(self) -> None:
        """Stop scheduling and wait for the polls in flight (a fetch ends within a
        fraction of a second of its stop event being set); polls still queued for a
        free thread do not start."""
        self._stopping.set()
        if self._scheduler.running:
            self._scheduler.shutdown(wait=True)

    def add_task(self, name: str, func: Callable[[], None], every_s: float) -> None:
        """A housekeeping job (e.g. pruning), first run now."""
        self._scheduler.add_job(
            func,
            IntervalTrigger(seconds=every_s, timezone=UTC),
            id=f"task:{name}",
            name=name,
            next_run_time=datetime.now(UTC),
            replace_existing=True,
        )

    def apply(self, feeds: list[Feed]) -> str:
        """Make the jobs match ``feeds``; return a one-line summary of the change."""
        wanted = {f.name: f for f in feeds if f.enabled}
        added: list[str] = []
        removed: list[str] = []
        changed: list[str] = []
        with self._lock:
            for name in list(self.feeds):
                if name not in wanted:
                    self._scheduler.remove_job(f"feed:{name}")
                    del self.feeds[name]
                    removed.append(name)
            for name, feed in wanted.items():
                old = self.feeds.get(name)
                if old == feed:
                    continue
                if old is not None and old.url != feed.url:
                    self.states[name] = FeedState()
                self._schedule(feed)
                self.feeds[name] = feed
                (changed if old is not None else added).append(name)
        parts = [
            f"{label} {', '.join(names)}"
            for label, names in (("added", added), ("removed", removed), ("changed", changed))
            if names
        ]
        return f"{len(self.feeds)} feeds" + (f" ({'; '.join(parts)})" if parts else "")

    def _schedule(self, feed: Feed) -> None:
        jitter = jitter_for(feed, self.options.jitter_s)
        first = datetime.now(UTC) + timedelta(seconds=random.uniform(0, jitter))  # noqa: S311 - spreading load, not security
        self._scheduler.add_job(
            self.run_once,
            IntervalTrigger(seconds=feed.interval_s, jitter=jitter or None, timezone=UTC),
            args=[feed.name],
            id=f"feed:{feed.name}",
            name=feed.name,
            next_run_time=first,
            replace_existing=True,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=self._grace,
        )

    def run_once(self, name: str) -> SourcePoll | None:
        """Poll feed ``name`` now unless it is resting after failures."""
        with self._lock:
            feed = self.feeds.get(name)
            state = self.states.setdefault(name, FeedState())
        if feed is None or self._stopping.is_set():
            return None
        now = self.ctx.clock()
        if state.retry_at is not None and now < state.retry_at:
            log.debug("feed %s: resting until %s", name, state.retry_at.isoformat())
            return None
        poll = poll_feed(feed, state, self.ctx)
        if self.on_poll is not None:
            self.on_poll(poll, state.failures)
        return poll
