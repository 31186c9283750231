"""What the agents did, noted in one place: ``PipelineObserver`` counts it in-process
(``PipelineCounters``, flushed for the dashboard) and in Prometheus
(``streams.metrics``) together, so the two never disagree."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from streams.metrics import PipelineMetrics
from streams.records import DeadLetter

log = logging.getLogger(__name__)


@dataclass
class AgentCounters:
    processed: int = 0
    dead_lettered: int = 0
    retried: int = 0
    batches: int = 0


@dataclass
class PipelineCounters:
    classify: AgentCounters = field(default_factory=AgentCounters)
    persist: AgentCounters = field(default_factory=AgentCounters)
    stored_new: int = 0
    #: agent -> the group's lag on the partitions of its topic this worker holds, as last
    #: read (``streams.agents.register_lag_gauge``); absent: not read yet
    lag: dict[str, int] = field(default_factory=dict)

    def agent(self, name: str) -> AgentCounters:
        """The counters of the agent ``name`` ("classify" or "persist")."""
        if name == "classify":
            return self.classify
        if name == "persist":
            return self.persist
        raise ValueError(f"no agent named {name!r}: classify or persist")


@dataclass
class PipelineObserver:
    """Told by the agents' batches what they did; updates the counters and the metrics."""

    counters: PipelineCounters = field(default_factory=PipelineCounters)
    metrics: PipelineMetrics = field(default_factory=PipelineMetrics)

    def took(self, agent: str, topic: str, records: int) -> None:
        """``agent`` took a batch of ``records`` from ``topic``."""
        self.metrics.items.labels(topic, "consumed").inc(records)
        self.metrics.batch_size.labels(agent).observe(records)

    def inferred(self, seconds: float) -> None:
        """The model scored one batch in ``seconds``."""
        self.metrics.inference_seconds.observe(seconds)

    def retried(self, agent: str, operation: str) -> None:
        """``operation`` (model, kafka, database) failed and ``agent`` tries it again."""
        self.counters.agent(agent).retried += 1
        self.metrics.retries.labels(agent, operation).inc()

    def classified(
        self, topic: str, processed: int, scored: int, dead: Sequence[DeadLetter]
    ) -> None:
        """The classify agent finished a batch from ``topic``: ``scored`` items and the
        ``dead`` letters sent, out of ``processed`` records."""
        self.counters.classify.batches += 1
        self.counters.classify.processed += processed
        self.metrics.items.labels(topic, "scored").inc(scored)
        self.dead_lettered("classify", dead)

    def stored(self, topic: str, processed: int, new: int, dead: Sequence[DeadLetter]) -> None:
        """The persist agent finished a batch from ``topic``: ``new`` articles stored and
        the ``dead`` letters sent, out of ``processed`` records."""
        self.counters.persist.batches += 1
        self.counters.persist.processed += processed
        self.counters.stored_new += new
        self.metrics.items.labels(topic, "stored").inc(new)
        self.dead_lettered("persist", dead)

    def reached_store(self, seconds: float) -> None:
        """A record was committed ``seconds`` after it was published to the raw topic."""
        self.metrics.publish_to_stored_seconds.observe(seconds)

    def dead_lettered(self, agent: str, dead: Sequence[DeadLetter]) -> None:
        """``agent`` sent ``dead`` to the dead-letter topic; each is logged."""
        self.counters.agent(agent).dead_lettered += len(dead)
        for d in dead:
            self.metrics.deadlettered.labels(d.topic, d.stage).inc()
            log.warning("dead letter from %s[%s]@%s: %s", d.topic, d.partition, d.offset, d.reason)
