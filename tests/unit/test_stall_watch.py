"""Faust's livelock check, through finsent's consumer thread: a partition is reported
stuck only when consecutive checks find it so at the same position."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

from streams.app import WorkerConfig, create_app
from streams.kafka import StallWatch
from streams.topics import TopicNames

pytestmark = pytest.mark.unit

PARTITION = TP("news.scored", 7)


def test_a_finding_is_confirmed_only_at_the_same_position_after_the_grace() -> None:
    watch = StallWatch(grace=5.0)
    assert not watch.found(PARTITION, 41, now=100.0)
    assert not watch.found(PARTITION, 41, now=103.0)  # too soon
    assert watch.found(PARTITION, 41, now=107.0)
    assert not watch.found(PARTITION, 42, now=114.0)  # it moved: starts over
    assert watch.found(PARTITION, 42, now=121.0)
    watch.clear(PARTITION)
    assert not watch.found(PARTITION, 42, now=128.0)
    assert not watch.found(TP("news.scored", 1), 42, now=128.0)  # each partition alone


@pytest.fixture
def thread(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """finsent's consumer thread (no broker: it never starts), over a Faust check that
    finds the partition stuck whenever ``stuck`` says so, and a log that records."""
    app = create_app(
        WorkerConfig(
            app_id="stall-test",
            bootstrap_servers="127.0.0.1:1",
            topics=TopicNames("news.raw", "news.scored", "news.alerts", "news.deadletter"),
            partitions=8,
        )
    )
    consumer: Any = app.consumer
    consumer_thread = consumer._thread
    consumer_thread.stuck = True
    consumer_thread.logged = []
    consumer_thread.at = 41

    def faust_check(self: Any, now: float, tp: TP) -> None:
        if self.stuck:
            self._log_slow_processing_stream(
                faust_aiokafka.SLOW_PROCESSING_STREAM_IDLE_SINCE_START, tp, "5 minutes ago"
            )

    def record(self: Any, msg: str, *args: Any, **kwargs: Any) -> None:
        self.logged.append(msg % args)

    monkeypatch.setattr(faust_aiokafka.AIOKafkaConsumerThread, "verify_event_path", faust_check)
    monkeypatch.setattr(faust_aiokafka.AIOKafkaConsumerThread, "_log_slow_processing", record)
    monkeypatch.setattr(type(consumer_thread), "_position", lambda self, tp: self.at)
    yield consumer_thread
    consumer_thread.thread_loop.close()
    app.loop.close()


def check_at(thread: Any, now: float) -> None:
    thread.verify_event_path(now, PARTITION)


def test_one_check_in_the_window_of_a_fetch_logs_nothing(thread: Any) -> None:
    check_at(thread, 100.0)  # a record just past the position
    thread.stuck = False
    thread.at = 42  # the next fetch took it
    check_at(thread, 107.0)
    thread.stuck = True  # the next record, the next window
    check_at(thread, 114.0)
    assert thread.logged == []


def test_a_partition_stuck_at_one_position_is_logged(thread: Any) -> None:
    check_at(thread, 100.0)
    check_at(thread, 107.0)
    assert thread.logged == [
        f"Stream has not started processing {PARTITION!r} (started 5 minutes ago)."
    ]


def test_a_partition_still_moving_is_not_logged(thread: Any) -> None:
    for step in range(5):
        thread.at = 41 + step
        check_at(thread, 100.0 + 7 * step)
    assert thread.logged == []
