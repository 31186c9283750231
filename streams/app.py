"""The one Faust App. Built from plain values at start-up, never at import."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import faust

from streams.kafka import transport_class
from streams.topics import TopicNames


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    """Everything the worker needs to know, as plain values."""

    app_id: str
    bootstrap_servers: str
    topics: TopicNames
    partitions: int
    #: Replicas of each topic the worker creates, and their min.insync.replicas (None:
    #: the broker's default).
    replication_factor: int = 1
    min_insync_replicas: int | None = None
    batch_size: int = 256
    max_wait: float = 0.1
    session_timeout: float = 6.0
    heartbeat_interval: float = 1.0
    commit_interval: float = 2.8
    concurrency: int = 1
    #: Records taken from Kafka per fetch, in batches (0: no bound, Faust's default).
    prefetch_batches: int = 2
    #: How the worker's producer compresses its batches: none, gzip, lz4, zstd.
    compression: str = "zstd"
    #: Longest a consumer fetch waits for records at the broker.
    fetch_max_wait: float = 0.1
    #: Longest the start waits to reach the broker and create the topics, seconds.
    connect_timeout: float = 30.0
    #: Longest a batch's sends may wait for the broker's acknowledgement before they are
    #: sent again, seconds.
    send_timeout: float = 30.0
    #: Seconds between two looks at whether the topics are still those the worker
    #: started on (``streams.worker.TopicWatch``); 0: never.
    topic_check_interval: float = 10.0
    #: Seconds between two readings of the group's lag on this worker's partitions, for
    #: the metrics (``finsent_consumer_lag``); 0: never.
    lag_interval: float = 15.0
    #: Where Faust keeps its local state; None: Faust's default (under the working directory).
    datadir: str | None = None


class FinsentApp(faust.App):
    """A Faust app whose consumer fetch wait is a setting (see ``streams.kafka``)."""

    def __init__(self, *args: Any, fetch_max_wait: float, **kwargs: Any) -> None:
        self._transport_class = transport_class(max(1, round(fetch_max_wait * 1000)))
        super().__init__(*args, **kwargs)

    def _new_transport(self) -> Any:
        return self._transport_class(self.conf.broker_consumer, self)


#: Faust's per-agent buffer (``stream_buffer_maxsize``) unless a fetch needs more room.
FAUST_BUFFER = 4096


@dataclass(frozen=True, slots=True)
class FlowLimits:
    #: Records one consumer fetch hands to the agents; None: all it has (Faust's default).
    max_poll_records: int | None
    #: Records an agent may hold unprocessed before its partitions are paused.
    stream_buffer: int


def flow_limits(batch_size: int, prefetch_batches: int) -> FlowLimits:
    """How many records are in flight between Kafka and the agents.

    All agents of a worker share one consumer, and Faust hands every record of a fetch
    to its agent before it fetches again. Unbounded, a fetch under a backlog holds
    thousands of ``news.raw`` records, and the ``news.scored`` records classify has
    produced wait behind all of them: a fresh worker facing 20,000 items stored its
    first one after 26 s and ran 10,000 items ahead (BENCHMARKS.md, "A worker facing a
    backlog"). A fetch of a few batches lets persist's records through every round.
    Faust pauses an agent's partitions when its buffer is 80 % full, so the buffer
    keeps room for a whole fetch above that mark (a fetch never waits on a full buffer).
    """
    if prefetch_batches == 0:
        return FlowLimits(None, FAUST_BUFFER)
    records = batch_size * prefetch_batches
    return FlowLimits(records, max(FAUST_BUFFER, 5 * records))


def create_app(config: WorkerConfig) -> faust.App:
    """A Faust app on the configured brokers; values are raw bytes (we parse them)."""
    limits = flow_limits(config.batch_size, config.prefetch_batches)
    return FinsentApp(
        config.app_id,
        broker=[f"kafka://{server.strip()}" for server in config.bootstrap_servers.split(",")],
        key_serializer="raw",
        value_serializer="raw",
        store="memory://",
        topic_partitions=config.partitions,
        topic_allow_declare=False,
        topic_disable_leader=False,
        broker_session_timeout=config.session_timeout,
        broker_heartbeat_interval=config.heartbeat_interval,
        broker_commit_interval=config.commit_interval,
        consumer_auto_offset_reset="earliest",
        broker_max_poll_records=limits.max_poll_records,
        stream_buffer_maxsize=limits.stream_buffer,
        producer_acks=-1,
        producer_compression_type=None if config.compression == "none" else config.compression,
        web_enabled=False,
        autodiscover=False,
        datadir=config.datadir or "{conf.name}-data",
        fetch_max_wait=config.fetch_max_wait,
    )
