"""The Faust wiring: the topics, the classify and persist agents, the worker's timers.

Each agent takes a batch and hands it, as plain ``RawRecord``s, to its sink in
``stages`` (``ClassifySink``, ``PersistSink``), which holds the batch until it is done.
Faust acknowledges a ``take`` batch in a ``finally``, even when the body raises, so an
error that escapes a sink (a bug) ends the process without acknowledging the batch,
which is then redelivered.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import faust
from prometheus_client import Gauge

from core.outage import Outage
from entities.registry import Registry
from storage.articles import SavedBatch, ScoredArticle
from storage.exceptions import RejectedRecord
from storage.workers import AgentCounts
from streams.app import WorkerConfig
from streams.counters import PipelineCounters, PipelineObserver
from streams.exceptions import BrokerError
from streams.lag import LagReader, PartitionLag
from streams.metrics import PipelineMetrics
from streams.stages import (
    EXIT_UNFINISHED,
    ClassifySink,
    Outgoing,
    PersistSink,
    RawRecord,
    Scorer,
)
from streams.tagging import Watchlist

log = logging.getLogger(__name__)


@dataclass
class Pipeline:
    """What the agents work with; built once at start-up."""

    scorer: Scorer
    watchlist: Watchlist
    #: The company registry the classify stage resolves items against.
    registry: Registry
    #: Stores a batch: the new ids, and the records whose id belongs to another article.
    save: Callable[[list[ScoredArticle]], SavedBatch]
    #: Models of their own for some languages (``zh``); the rest go to ``scorer``.
    by_language: dict[str, Scorer] = field(default_factory=dict)
    counters: PipelineCounters = field(default_factory=PipelineCounters)
    metrics: PipelineMetrics = field(default_factory=PipelineMetrics)
    #: Writes the counters where the dashboard reads them; None: not written.
    save_counters: Callable[[list[AgentCounts]], None] | None = None
    counters_interval: float = 5.0
    model_pool: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="model")
    )
    db_pool: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="db")
    )
    max_retry_delay: float = 30.0


def raw_record(event: Any) -> RawRecord:
    """A Faust event's message as plain data."""
    message = event.message
    headers = message.headers
    return RawRecord(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        key=message.key,
        value=message.value,
        timestamp=message.timestamp,
        headers=tuple(headers.items() if isinstance(headers, Mapping) else headers or ()),
    )


async def send_all(topic: Any, records: Sequence[Outgoing], timeout: float) -> None:
    """Send and wait until the broker has acknowledged every record; raise the first
    failure, or ``TimeoutError`` after ``timeout`` seconds (a send to a broker that lost
    its state may never end; the caller sends again). Every send's failure counts as
    seen, also of sends that end after the wait: asyncio would log each as "never
    retrieved", with a traceback."""

    async def send() -> None:
        futures = [
            await topic.send(key=key, value=value, headers=headers)
            for key, value, headers in records
        ]
        for future in futures:
            future.add_done_callback(_seen)
        for outcome in await asyncio.gather(*futures, return_exceptions=True):
            if isinstance(outcome, BaseException):
                raise outcome

    try:
        await asyncio.wait_for(send(), timeout)
    except TimeoutError:
        raise TimeoutError(f"the broker acknowledged nothing within {timeout:g}s") from None


def _seen(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


def register_agents(app: faust.App, config: WorkerConfig, pipeline: Pipeline) -> None:
    """Declare the topics, the classify and persist agents and the timers on ``app``."""
    names = config.topics

    def declare(name: str) -> Any:
        return app.topic(
            name,
            key_type=bytes,
            value_type=bytes,
            partitions=config.partitions,
            key_serializer="raw",
            value_serializer="raw",
        )

    raw_topic, scored_topic = declare(names.raw), declare(names.scored)
    out_topics = {names.scored: scored_topic, names.deadletter: declare(names.deadletter)}

    async def send(name: str, records: Sequence[Outgoing]) -> None:
        await send_all(out_topics[name], records, config.send_timeout)

    observer = PipelineObserver(pipeline.counters, pipeline.metrics)
    classify_sink = ClassifySink(
        pipeline.scorer,
        pipeline.watchlist,
        pipeline.registry,
        send,
        observer,
        names,
        model_pool=pipeline.model_pool,
        max_retry_delay=pipeline.max_retry_delay,
        by_language=pipeline.by_language,
    )
    persist_sink = PersistSink(
        pipeline.save,
        send,
        observer,
        names,
        rejected=RejectedRecord,
        db_pool=pipeline.db_pool,
        max_retry_delay=pipeline.max_retry_delay,
    )

    @app.timer(interval=60.0)  # type: ignore[untyped-decorator]  # faust's decorator is untyped
    async def report() -> None:
        log_counters(pipeline.counters)

    if pipeline.save_counters is not None:
        save_counters = pipeline.save_counters
        outage = Outage("writing the worker counters", log)

        @app.timer(interval=pipeline.counters_interval)  # type: ignore[untyped-decorator]
        async def flush_counters() -> None:
            await write_counters(save_counters, pipeline.counters, outage)

    if pipeline.metrics is not None and config.lag_interval > 0:
        register_lag_gauge(app, config, pipeline.metrics.consumer_lag, pipeline.counters)

    @app.agent(raw_topic, name="classify", concurrency=config.concurrency)
    async def classify(stream: Any) -> None:
        async for events in stream.take_events(config.batch_size, within=config.max_wait):
            await guarded(classify_sink.write, events, "classify")

    @app.agent(scored_topic, name="persist", concurrency=config.concurrency)
    async def persist(stream: Any) -> None:
        async for events in stream.take_events(config.batch_size, within=config.max_wait):
            await guarded(persist_sink.write, events, "persist")


def register_lag_gauge(
    app: faust.App, config: WorkerConfig, gauge: Gauge, counters: PipelineCounters
) -> None:
    """Every ``config.lag_interval`` seconds, read the group's lag and set ``gauge`` for
    the partitions this worker holds (so the workers' sum is the group's), and each
    agent's total in ``counters`` (written with them for the dashboard); a broker that
    does not answer is logged once per outage and the last values stay."""
    topics = [config.topics.raw, config.topics.scored]
    agents = {config.topics.raw: "classify", config.topics.scored: "persist"}
    outage = Outage("reading the consumer group's lag", log)
    timeout = min(config.connect_timeout, max(1.0, config.lag_interval / 2))
    reader = LagReader(config.bootstrap_servers, config.app_id, topics, timeout=timeout)

    @app.timer(interval=config.lag_interval)  # type: ignore[untyped-decorator]
    async def read_lag() -> None:
        held = held_partitions(app)
        try:
            rows = await asyncio.to_thread(reader.read)
        except BrokerError as e:
            outage.failed(e)
            return
        outage.succeeded()
        set_lag_gauge(gauge, rows, held)
        counters.lag = held_lag(rows, held, agents)

    # mode's handler type names a generic signal mypy cannot match an async def against
    @app.on_before_shutdown.connect  # type: ignore[arg-type]
    async def close_lag_reader(sender: Any, *args: Any, **kwargs: Any) -> None:
        await asyncio.to_thread(reader.close)


def held_partitions(app: faust.App) -> set[tuple[str, int]]:
    """The (topic, partition) pairs the app's consumer is assigned now (none before it
    has joined its group)."""
    try:
        assigned = app.consumer.assignment()
    except Exception:  # not started yet, or stopping: Faust raises its own kinds
        return set()
    return {(tp.topic, tp.partition) for tp in assigned}


def held_lag(
    rows: Sequence[PartitionLag], held: set[tuple[str, int]], agents: Mapping[str, str]
) -> dict[str, int]:
    """Per agent (by its topic in ``agents``), the lag summed over the held partitions."""
    totals = dict.fromkeys(agents.values(), 0)
    for row in rows:
        if row.lag is not None and (row.topic, row.partition) in held and row.topic in agents:
            totals[agents[row.topic]] += row.lag
    return totals


def set_lag_gauge(gauge: Gauge, rows: Sequence[PartitionLag], held: set[tuple[str, int]]) -> None:
    """The gauge holds exactly the held partitions that have a lag (a commit)."""
    gauge.clear()
    for row in rows:
        if row.lag is not None and (row.topic, row.partition) in held:
            gauge.labels(row.topic, str(row.partition)).set(row.lag)


def log_counters(c: PipelineCounters) -> None:
    """One line of what the agents have done since the start."""
    log.info(
        "classify: %d processed, %d dead-lettered, %d retries | persist: %d processed, "
        "%d new articles, %d dead-lettered, %d retries",
        c.classify.processed,
        c.classify.dead_lettered,
        c.classify.retried,
        c.persist.processed,
        c.stored_new,
        c.persist.dead_lettered,
        c.persist.retried,
    )


async def write_counters(
    save_counters: Callable[[list[AgentCounts]], None],
    counters: PipelineCounters,
    outage: Outage,
) -> None:
    """Write the counters where the dashboard reads them; a failure is logged once per
    outage (the counters are for display: the next flush catches up)."""
    try:
        await asyncio.to_thread(save_counters, agent_counts(counters))
    except Exception as e:
        outage.failed(e)
    else:
        outage.succeeded()


def agent_counts(counters: PipelineCounters) -> list[AgentCounts]:
    """The counters as the storage layer takes them."""
    return [
        AgentCounts(
            agent=name,
            processed=c.processed,
            dead_lettered=c.dead_lettered,
            retried=c.retried,
            batches=c.batches,
            lag=counters.lag.get(name),
        )
        for name, c in (("classify", counters.classify), ("persist", counters.persist))
    ]


async def guarded(
    write: Callable[[list[RawRecord]], Awaitable[None]], events: Sequence[Any], agent: str
) -> None:
    """Hand one batch of events to ``write`` as plain records; an error that escaped the
    stages is a bug, and letting it leave the ``take`` loop would acknowledge the batch
    unprocessed. Exit hard instead: the batch is redelivered to the restarted (or
    another) worker."""
    try:
        await write([raw_record(e) for e in events])
    except Exception:
        log.exception("%s: unexpected error; exiting without acknowledging the batch", agent)
        logging.shutdown()
        os._exit(EXIT_UNFINISHED)
