"""Wiring alerting into the Faust worker: an evaluation timer and the deliverer task.

Every worker runs the timer; the evaluator lock in the database (a PostgreSQL advisory
lock) lets exactly one of them evaluate each round, so nothing depends on which worker
Kafka made the group leader. The database work runs in a thread; the events of a round
go to the ``alerts`` topic after the round's transaction commits (an event whose send
failed is sent again next round: at least once, keyed by its event id).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import faust
from sqlalchemy import Engine

from alerts.delivery import Deliverer
from alerts.evaluator import AlertingConfig, evaluate_once
from alerts.formats import dumps
from core.outage import Outage
from storage.alerts import mark_published, unpublished_events
from streams.app import WorkerConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AlertingRuntime:
    """What the worker needs for alerting: built once at start-up."""

    engine: Engine
    config: AlertingConfig
    interval: float = 30.0
    evaluate: bool = True
    deliverer: Deliverer | None = None
    #: called with each round's count of items that came after their bucket was evaluated
    on_late: Callable[[int], None] | None = None


async def evaluate_and_publish(runtime: AlertingRuntime, topic: Any) -> int:
    """One round, then (if this worker had the round) every unpublished event to the
    alerts topic, including any a crashed evaluator left behind. Returns how many."""
    now = datetime.now(UTC)
    outcome = await asyncio.to_thread(evaluate_once, runtime.engine, runtime.config, now)
    if not outcome.ran:  # another worker has this round, and publishes its events
        return 0
    if outcome.late and runtime.on_late is not None:
        runtime.on_late(outcome.late)
    if outcome.states:
        log.info("alert evaluation as of %s: %d state changes", outcome.as_of, outcome.states)
    events = await asyncio.to_thread(unpublished_events, runtime.engine)
    if not events:
        return 0
    # Keyed by fingerprint: one alert's firing and resolved events share a partition, so
    # every consumer sees them in order.
    futures = [
        await topic.send(key=str(data.get("fingerprint") or eid).encode(), value=dumps(data))
        for eid, data in events
    ]
    await asyncio.gather(*futures)
    await asyncio.to_thread(
        mark_published, runtime.engine, [eid for eid, _ in events], datetime.now(UTC)
    )
    return len(events)


def register_alerting(app: faust.App, config: WorkerConfig, runtime: AlertingRuntime) -> None:
    """Add the evaluation timer and the deliverer task to ``app``."""
    alerts_topic = app.topic(
        config.topics.alerts,
        key_type=bytes,
        value_type=bytes,
        partitions=config.partitions,
        key_serializer="raw",
        value_serializer="raw",
    )

    if runtime.evaluate:
        outage = Outage(f"alert evaluation (every {runtime.interval:g} s)", log)

        @app.timer(interval=runtime.interval)  # type: ignore[untyped-decorator]  # faust is untyped
        async def evaluate_alerts() -> None:
            try:
                await evaluate_and_publish(runtime, alerts_topic)
            except Exception as e:  # the next round tries again; never crash the worker
                outage.failed(e)
            else:
                outage.succeeded()

    deliverer = runtime.deliverer
    if deliverer is not None:

        @app.task  # type: ignore[untyped-decorator]  # faust is untyped
        async def deliver_webhooks() -> None:
            log.info("webhook deliverer started for %s", ", ".join(deliverer.names) or "nobody")
            await deliverer.run()
