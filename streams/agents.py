"""The agents: each a short loop around the plain stage functions of ``stages``.

Faust acknowledges a ``take`` batch in a ``finally``, even when the body raises, so no
exception may leave a loop body: bad records become dead letters, and failures of the
model, the database or the producer are retried while the batch is held (the worker
stalls rather than drops). If the worker is stopped while it holds an unfinished batch,
the process exits at once without acknowledging it, and the batch is redelivered.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import faust

from common.errors import first_line
from common.outage import Outage
from storage.exceptions import RejectedRecord
from storage.types import AgentCounts, SavedBatch, ScoredArticle
from streams.app import WorkerConfig
from streams.counters import PipelineCounters
from streams.metrics import PipelineMetrics
from streams.records import DeadLetter, ModelRef
from streams.stages import (
    PredictionLike,
    RawRecord,
    check_raw,
    check_scored,
    dead_for,
    model_text,
    save_isolating_rejects,
    score,
    to_article,
)
from streams.tagging import Watchlist

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Exit status when stopped while holding an unfinished batch (EX_SOFTWARE).
EXIT_UNFINISHED = 70
#: Header the classify agent puts on each scored record: the raw record's timestamp.
RAW_TIMESTAMP_HEADER = "finsent-raw-ts"

Record = tuple[bytes | None, bytes, dict[str, bytes] | None]


class Scorer(Protocol):
    """The classifier as the pipeline sees it."""

    model: ModelRef

    def predict(self, texts: Sequence[str]) -> Sequence[PredictionLike]: ...


@dataclass
class Pipeline:
    """What the agents work with; built once at start-up."""

    scorer: Scorer
    watchlist: Watchlist
    #: Stores a batch: the new ids, and the records whose id belongs to another article.
    save: Callable[[list[ScoredArticle]], SavedBatch]
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


async def hold(
    action: Callable[[], Awaitable[T]], what: str, on_retry: Callable[[], None], max_delay: float
) -> T:
    """Run ``action`` until it succeeds, backing off; never give the batch up."""
    delay = 0.25
    while True:
        try:
            return await action()
        except asyncio.CancelledError:
            log.error("stopped while %s was unfinished: exiting without acknowledging", what)
            logging.shutdown()
            os._exit(EXIT_UNFINISHED)
        except Exception as e:
            on_retry()
            log.warning(
                "%s failed (%s: %s); retrying in %.1fs",
                what,
                type(e).__name__,
                first_line(e),
                delay,
            )
        try:
            await asyncio.sleep(delay)
        except asyncio.CancelledError:
            log.error("stopped while retrying %s: exiting without acknowledging", what)
            logging.shutdown()
            os._exit(EXIT_UNFINISHED)
        delay = min(delay * 2, max_delay)


def raw_record(event: Any) -> RawRecord:
    message = event.message
    return RawRecord(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        key=message.key,
        value=message.value,
    )


async def send_all(topic: Any, records: Sequence[Record], timeout: float) -> None:
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


def _dead_records(dead: list[DeadLetter]) -> list[Record]:
    return [(d.key.encode() if d.key is not None else None, d.to_json(), None) for d in dead]


def raw_timestamp_header(timestamp: float | None) -> dict[str, bytes] | None:
    """The header that carries a raw record's timestamp (seconds) to the persist agent."""
    return None if timestamp is None else {RAW_TIMESTAMP_HEADER: repr(float(timestamp)).encode()}


def raw_timestamp(headers: Any) -> float | None:
    """The raw record's timestamp from a scored record's headers (a list of pairs or a
    mapping, as Faust gives them); None when absent or unreadable."""
    pairs = headers.items() if isinstance(headers, dict) else (headers or ())
    for name, value in pairs:
        if name == RAW_TIMESTAMP_HEADER:
            try:
                return float(value.decode() if isinstance(value, bytes) else value)
            except (UnicodeDecodeError, ValueError):
                return None
    return None


def register_agents(app: faust.App, config: WorkerConfig, pipeline: Pipeline) -> None:
    """Declare the topics and the classify and persist agents on ``app``."""
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
    deadletter_topic = declare(names.deadletter)
    counters, metrics = pipeline.counters, pipeline.metrics
    loop_delay = pipeline.max_retry_delay
    send_timeout = config.send_timeout

    def retried(agent: str, operation: str) -> Callable[[], None]:
        def count() -> None:
            getattr(counters, agent).retried += 1
            metrics.retries.labels(agent, operation).inc()

        return count

    def count_dead(dead: Sequence[DeadLetter]) -> None:
        for d in dead:
            metrics.deadlettered.labels(d.topic, d.stage).inc()
            log.warning("dead letter from %s[%s]@%s: %s", d.topic, d.partition, d.offset, d.reason)

    async def classify_batch(events: Sequence[Any]) -> None:
        loop = asyncio.get_running_loop()
        records = [raw_record(e) for e in events]
        stamps = {id(r): e.message.timestamp for r, e in zip(records, events, strict=True)}
        metrics.items.labels(names.raw, "consumed").inc(len(events))
        metrics.batch_size.labels("classify").observe(len(events))
        checked = check_raw(records)
        items = [item for _, item in checked.items]
        texts = [model_text(item) for item in items]

        async def predict() -> Sequence[PredictionLike]:
            started = time.perf_counter()
            out = await loop.run_in_executor(pipeline.model_pool, pipeline.scorer.predict, texts)
            metrics.inference_seconds.observe(time.perf_counter() - started)
            return out

        predictions = (
            await hold(predict, "classifying", retried("classify", "model"), loop_delay)
            if texts
            else []
        )
        scored = score(items, predictions, pipeline.watchlist, pipeline.scorer.model)
        out: list[Record] = [
            (s.id.encode(), s.to_json(), raw_timestamp_header(stamps[id(record)]))
            for (record, _), s in zip(checked.items, scored, strict=True)
        ]

        async def publish() -> None:
            await send_all(scored_topic, out, send_timeout)
            await send_all(deadletter_topic, _dead_records(checked.dead), send_timeout)

        await hold(publish, "publishing scored items", retried("classify", "kafka"), loop_delay)
        counters.classify.batches += 1
        counters.classify.processed += len(events)
        counters.classify.dead_lettered += len(checked.dead)
        metrics.items.labels(names.raw, "scored").inc(len(scored))
        count_dead(checked.dead)

    async def persist_batch(events: Sequence[Any]) -> None:
        loop = asyncio.get_running_loop()
        metrics.items.labels(names.scored, "consumed").inc(len(events))
        metrics.batch_size.labels("persist").observe(len(events))
        good, dead = check_scored([raw_record(e) for e in events])
        pairs = [(record, to_article(item)) for record, item in good]

        async def save() -> tuple[list[str], list[tuple[RawRecord, str]]]:
            return await loop.run_in_executor(
                pipeline.db_pool, save_isolating_rejects, pipeline.save, pairs, RejectedRecord
            )

        new_ids, rejected = await hold(
            save, "saving to the database", retried("persist", "database"), loop_delay
        )
        stored = time.time()
        for event in events:
            published = raw_timestamp(event.message.headers)
            if published is not None:
                metrics.publish_to_stored_seconds.observe(max(0.0, stored - published))
        dead += [dead_for(record, reason, "persist") for record, reason in rejected]
        if dead:
            await hold(
                lambda: send_all(deadletter_topic, _dead_records(dead), send_timeout),
                "publishing dead letters",
                retried("persist", "kafka"),
                loop_delay,
            )
        counters.persist.batches += 1
        counters.persist.processed += len(events)
        counters.persist.dead_lettered += len(dead)
        counters.stored_new += len(new_ids)
        metrics.items.labels(names.scored, "stored").inc(len(new_ids))
        count_dead(dead)

    @app.timer(interval=60.0)  # type: ignore[untyped-decorator]  # faust's decorator is untyped
    async def report() -> None:
        c = pipeline.counters
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

    if pipeline.save_counters is not None:
        save_counters = pipeline.save_counters
        outage = Outage("writing the worker counters", log)

        @app.timer(interval=pipeline.counters_interval)  # type: ignore[untyped-decorator]
        async def flush_counters() -> None:
            try:
                await asyncio.to_thread(save_counters, agent_counts(pipeline.counters))
            except Exception as e:  # the counters are for display; the next flush catches up
                outage.failed(e)
            else:
                outage.succeeded()

    @app.agent(raw_topic, name="classify", concurrency=config.concurrency)
    async def classify(stream: Any) -> None:
        async for events in stream.take_events(config.batch_size, within=config.max_wait):
            await guarded(classify_batch(events), "classify")

    @app.agent(scored_topic, name="persist", concurrency=config.concurrency)
    async def persist(stream: Any) -> None:
        async for events in stream.take_events(config.batch_size, within=config.max_wait):
            await guarded(persist_batch(events), "persist")


def agent_counts(counters: PipelineCounters) -> list[AgentCounts]:
    """The counters as the storage layer takes them."""
    return [
        AgentCounts(
            agent=name,
            processed=c.processed,
            dead_lettered=c.dead_lettered,
            retried=c.retried,
            batches=c.batches,
        )
        for name, c in (("classify", counters.classify), ("persist", counters.persist))
    ]


async def guarded(batch: Awaitable[None], agent: str) -> None:
    """Run one batch; an error that escaped the stages is a bug, and letting it leave the
    ``take`` loop would acknowledge the batch unprocessed. Exit hard instead: the batch
    is redelivered to the restarted (or another) worker."""
    try:
        await batch
    except Exception:
        log.exception("%s: unexpected error; exiting without acknowledging the batch", agent)
        logging.shutdown()
        os._exit(EXIT_UNFINISHED)
