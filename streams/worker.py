"""Running the Faust worker: topics first, then the app with its agents."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import faust
from faust.types.tuples import FutureMessage

from streams.agents import Pipeline, register_agents
from streams.app import WorkerConfig, create_app
from streams.exceptions import BrokerError
from streams.topics import (
    TOPICS_CHANGED,
    TopicShape,
    describe_topics,
    ensure_topics,
    recreated_topics,
    rewind_group,
    topic_changes,
)

if TYPE_CHECKING:
    from streams.alerting import AlertingRuntime

log = logging.getLogger(__name__)


def ensure_worker_topics(config: WorkerConfig) -> None:
    """Reach the broker and create the worker's topics if needed (before the model loads:
    a wrong bootstrap address fails in seconds, not after a minute of loading)."""
    created = ensure_topics(
        config.bootstrap_servers,
        config.topics.all(),
        config.partitions,
        config.replication_factor,
        min_insync_replicas=config.min_insync_replicas,
        timeout=config.connect_timeout,
    )
    if created:
        log.info("created topics: %s", ", ".join(created))


@dataclass
class TopicWatch:
    """Notices that the broker lost or re-created the worker's topics.

    A broker that restarts without its data (the embedded one keeps nothing) forgets the
    topics; the next client to ask for one has it auto-created, with the broker's default
    partition count. A running consumer keeps the partitions it was assigned: it never
    reads the new ones (their items are never stored) and its commits for partitions
    that no longer exist fail on every round. A worker that started afresh reads the
    topics as they are, so the worker stops and is started again. Two looks in a row
    must see a change: a broker still starting may answer with a partial view."""

    before: dict[str, TopicShape]
    seen: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    #: Topics gone or re-created, when ``lost`` was confirmed.
    recreated: list[str] = field(default_factory=list)

    def look(self, now: Mapping[str, TopicShape]) -> list[str]:
        """Compare ``now`` with the start; the changes, once two looks in a row saw one."""
        changes = topic_changes(self.before, now)
        confirmed = changes if changes and self.seen else []
        self.seen = changes
        if confirmed and not self.lost:
            self.lost = confirmed
            self.recreated = recreated_topics(self.before, now)
        return confirmed


def register_topic_watch(app: faust.App, config: WorkerConfig, watch: TopicWatch) -> None:
    """Look at the topics every ``config.topic_check_interval`` seconds; when they
    changed, say so in one line and stop the worker as SIGTERM does (offsets committed),
    with exit status ``TOPICS_CHANGED``."""

    @app.timer(interval=config.topic_check_interval)  # type: ignore[untyped-decorator]
    async def check_topics() -> None:
        if watch.lost:
            return  # stopping already
        try:
            now = await asyncio.to_thread(
                describe_topics,
                config.bootstrap_servers,
                list(watch.before),
                # a look ends before the next is due (Faust warns of overlapping timers)
                timeout=min(config.connect_timeout, max(0.5, config.topic_check_interval / 2)),
            )
        except BrokerError:  # unreachable now: the clients say so; look again next time
            return
        if changed := watch.look(now):
            log.error(
                "the topics this worker reads changed under it: %s (did the broker restart "
                "without its data?). Stopping, to start again on the topics as they are now "
                "(exit status %d: finsent up and compose start the worker again)",
                "; ".join(changed),
                TOPICS_CHANGED,
            )
            # the gone ones, with the configured partitions: sends in flight can end
            with contextlib.suppress(BrokerError):
                await asyncio.to_thread(ensure_worker_topics, config)
            exit_if_not_stopped(STOP_GRACE, lambda: rewind_recreated(config, watch))
            os.kill(os.getpid(), signal.SIGTERM)


#: Seconds a worker stopping because its topics changed has to stop cleanly.
STOP_GRACE = 30.0


def exit_if_not_stopped(grace: float, last: Callable[[], None]) -> None:
    """Exit with ``TOPICS_CHANGED`` in ``grace`` seconds if the process still runs then,
    after ``last()``: a send to a broker that lost its state may never end. What the
    worker had not committed is read again by the next one; storing is idempotent."""

    def exit_now() -> None:
        log.error("the worker did not stop within %gs: exiting now", grace)
        last()
        logging.shutdown()
        os._exit(TOPICS_CHANGED)

    timer = threading.Timer(grace, exit_now)
    timer.daemon = True
    timer.start()


def quiet_failed_sends(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """The loop's exception handler, less one kind of noise: Faust keeps its own copy of
    each send's outcome (a ``FutureMessage``) that nobody reads, so every failed send
    would be logged again with a traceback as "exception was never retrieved". The
    sender saw the failure (``streams.agents.send_all``) and retries it."""
    if isinstance(context.get("future"), FutureMessage):
        return
    loop.default_exception_handler(context)


def rewind_recreated(config: WorkerConfig, watch: TopicWatch) -> None:
    """After the worker stopped: the group reads the re-created topics from their start.

    Until the watch noticed, the consumer fetched the new topics at the positions it had
    in the old ones: where a new partition already held more records than that, those
    below were skipped, and their offsets may have been committed. Storing is
    idempotent, so reading them all again loses nothing and stores nothing twice."""
    if not watch.recreated:
        return
    try:
        rewound = rewind_group(
            config.bootstrap_servers, config.app_id, watch.recreated, timeout=config.connect_timeout
        )
    except BrokerError as e:
        log.error(
            "%s; items of the re-created topics below the old positions may never be read "
            "(publish them again: `finsent replay`)",
            e,
        )
        return
    if rewound:
        log.info("the next worker reads %s from the start", ", ".join(watch.recreated))
    else:
        log.warning(
            "the broker still counts this worker in group %s: the group is deleted, and the "
            "next worker reads every topic from the start",
            config.app_id,
        )


def first_look(config: WorkerConfig, tries: int = 5) -> dict[str, TopicShape]:
    """The topics as the worker starts on them (a look that is no answer is tried again,
    a second apart)."""
    names = config.topics.all()
    for _ in range(tries - 1):
        try:
            return describe_topics(config.bootstrap_servers, names, timeout=config.connect_timeout)
        except BrokerError:
            time.sleep(1.0)
    return describe_topics(config.bootstrap_servers, names, timeout=config.connect_timeout)


def run_worker(
    config: WorkerConfig,
    pipeline: Pipeline,
    loglevel: str = "INFO",
    alerting: AlertingRuntime | None = None,
) -> None:
    """Run the worker until SIGINT/SIGTERM (its topics exist: ``ensure_worker_topics``)."""
    if config.datadir:  # Faust creates its own folder inside, not the parents
        Path(config.datadir).mkdir(parents=True, exist_ok=True)
    app = create_app(config)
    register_agents(app, config, pipeline)
    watch = None
    if config.topic_check_interval > 0:
        watch = TopicWatch(first_look(config))
        register_topic_watch(app, config, watch)
    if alerting is not None:
        from streams.alerting import register_alerting

        register_alerting(app, config, alerting)
    # Faust would install its own log format beside finsent's (finsent.logs): keep ours.
    worker = faust.Worker(
        app, loglevel=loglevel, quiet=True, redirect_stdouts=False, override_logging=False
    )
    # Faust drops its terminal spinner while it sets up logging; it does not now, so drop
    # it here: its escape codes are noise in a log, and without it Faust logs "Ready".
    worker.spinner = None
    worker.loop.set_exception_handler(quiet_failed_sends)
    try:
        worker.execute_from_commandline()
    except SystemExit:
        if watch is not None and watch.lost:
            rewind_recreated(config, watch)
            raise SystemExit(TOPICS_CHANGED) from None
        raise
