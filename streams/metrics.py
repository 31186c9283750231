"""Prometheus metrics of the worker, in a registry of their own, and their HTTP endpoint.

Names are stable (dashboards and alert rules depend on them):

- ``finsent_items_total{topic, stage}``: records consumed from a topic, scored by the
  model, stored as new articles;
- ``finsent_deadlettered_total{topic, stage}``: records sent to the dead-letter topic;
- ``finsent_retries_total{agent, operation}``: retries of a held batch (model,
  producer, database);
- ``finsent_webhook_attempts_total{receiver, outcome}``: webhook delivery attempts by
  outcome (delivered, retry, failed, disabled);
- ``finsent_alert_late_items_total``: items stored after the alert rules had evaluated
  their bucket (later than ``FINSENT_ALERTS_SETTLE``), counted by this worker's rounds;
- ``finsent_consumer_lag{topic, partition}``: the consumer group's lag on each partition
  this worker holds (log end offset minus the committed offset, ``streams.lag``), so
  the sum over the workers is the group's;
- ``finsent_batch_size{agent}``, ``finsent_inference_seconds``,
  ``finsent_publish_to_stored_seconds``: histograms.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from streams.exceptions import MetricsUnavailable

BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096)
INFERENCE_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0)


@dataclass
class PipelineMetrics:
    """The worker's instruments. Each instance has its own registry (tests build many)."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    items: Counter = field(init=False)
    deadlettered: Counter = field(init=False)
    retries: Counter = field(init=False)
    webhook_attempts: Counter = field(init=False)
    alert_late_items: Counter = field(init=False)
    batch_size: Histogram = field(init=False)
    inference_seconds: Histogram = field(init=False)
    publish_to_stored_seconds: Histogram = field(init=False)
    ready: Gauge = field(init=False)
    consumer_lag: Gauge = field(init=False)

    def __post_init__(self) -> None:
        r = self.registry
        self.ready = Gauge(
            "finsent_worker_ready",
            "1 once the model has loaded and the pipeline is built (the endpoint answers "
            "before: it starts first, so a taken port fails at once); 0 until then.",
            registry=r,
        )
        self.consumer_lag = Gauge(
            "finsent_consumer_lag",
            "Records of a partition this worker holds that its group has not committed "
            "yet: the log end offset minus the committed offset (the embedded broker "
            "reports batched partitions' ends short: exact on Apache Kafka).",
            ["topic", "partition"],
            registry=r,
        )
        self.items = Counter(
            "finsent_items",
            "Records consumed from a topic, scored by the model, or stored as new articles.",
            ["topic", "stage"],
            registry=r,
        )
        self.deadlettered = Counter(
            "finsent_deadlettered",
            "Records sent to the dead-letter topic, by the topic they came from.",
            ["topic", "stage"],
            registry=r,
        )
        self.retries = Counter(
            "finsent_retries",
            "Retries of a held batch after the model, Kafka or the database failed.",
            ["agent", "operation"],
            registry=r,
        )
        self.webhook_attempts = Counter(
            "finsent_webhook_attempts",
            "Webhook delivery attempts by receiver and outcome.",
            ["receiver", "outcome"],
            registry=r,
        )
        self.alert_late_items = Counter(
            "finsent_alert_late_items",
            "Items stored after the alert rules had evaluated their bucket (later than the "
            "allowed lateness), counted by this worker's evaluation rounds.",
            registry=r,
        )
        self.batch_size = Histogram(
            "finsent_batch_size",
            "Records per batch an agent took.",
            ["agent"],
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        self.inference_seconds = Histogram(
            "finsent_inference_seconds",
            "Seconds the model took for one agent batch.",
            buckets=INFERENCE_BUCKETS,
            registry=r,
        )
        self.publish_to_stored_seconds = Histogram(
            "finsent_publish_to_stored_seconds",
            "Seconds from a record's timestamp on news.raw to its database commit.",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )


def serve_metrics(registry: CollectorRegistry, host: str, port: int) -> Any:
    """Serve ``/metrics`` on a daemon thread; return the server (``.shutdown()`` stops it).

    A port that cannot be bound is a start-up error naming the address.
    """
    try:
        server, _thread = start_http_server(port, addr=host, registry=registry)
    except OSError as e:
        raise MetricsUnavailable(
            f"cannot serve metrics on {host}:{port}: {e.strerror or e} "
            "(set FINSENT_METRICS_WORKER_PORT / FINSENT_METRICS_SCHEDULER_PORT, 0 turns it off)"
        ) from None
    return server
