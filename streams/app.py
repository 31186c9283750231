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
    #: How the worker's producer compresses its batches: none, gzip, lz4, zstd.
    compression: str = "zstd"
    #: Longest a consumer fetch waits for records at the broker.
    fetch_max_wait: float = 0.1
    #: Longest the start waits to reach the broker and create the topics, seconds.
    connect_timeout: float = 30.0
    #: Where Faust keeps its local state; None: Faust's default (under the working directory).
    datadir: str | None = None


class FinsentApp(faust.App):
    """A Faust app whose consumer fetch wait is a setting (see ``streams.kafka``)."""

    def __init__(self, *args: Any, fetch_max_wait: float, **kwargs: Any) -> None:
        self._transport_class = transport_class(max(1, round(fetch_max_wait * 1000)))
        super().__init__(*args, **kwargs)

    def _new_transport(self) -> Any:
        return self._transport_class(self.conf.broker_consumer, self)


def create_app(config: WorkerConfig) -> faust.App:
    """A Faust app on the configured brokers; values are raw bytes (we parse them)."""
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
        producer_acks=-1,
        producer_compression_type=None if config.compression == "none" else config.compression,
        web_enabled=False,
        autodiscover=False,
        datadir=config.datadir or "{conf.name}-data",
        fetch_max_wait=config.fetch_max_wait,
    )
