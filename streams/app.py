"""The one Faust App. Built from plain values at start-up, never at import."""

from __future__ import annotations

from dataclasses import dataclass

import faust

from streams.topics import TopicNames


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    """Everything the worker needs to know, as plain values."""

    app_id: str
    bootstrap_servers: str
    topics: TopicNames
    partitions: int
    batch_size: int = 256
    max_wait: float = 0.25
    session_timeout: float = 6.0
    heartbeat_interval: float = 1.0
    commit_interval: float = 2.8
    concurrency: int = 1
    #: Where Faust keeps its local state; None: Faust's default (under the working directory).
    datadir: str | None = None


def create_app(config: WorkerConfig) -> faust.App:
    """A Faust app on the configured brokers; values are raw bytes (we parse them)."""
    return faust.App(
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
        web_enabled=False,
        autodiscover=False,
        datadir=config.datadir or "{conf.name}-data",
    )
