"""Consumer lag arithmetic and the gauge each worker sets."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Gauge

from streams.agents import set_lag_gauge
from streams.lag import PartitionLag, partition_lags, total_lag


def test_lag_per_partition_as_kafka_shows_it() -> None:
    ends = {("raw", 0): 10, ("raw", 1): 4, ("raw", 2): 0, ("scored", 0): 7}
    committed = {("raw", 0): 6, ("raw", 1): 9, ("scored", 0): 7}

    rows = partition_lags(ends, committed)

    assert rows == [
        PartitionLag("raw", 0, end=10, committed=6, lag=4),
        PartitionLag("raw", 1, end=4, committed=9, lag=0),  # a log truncated under it
        PartitionLag("raw", 2, end=0, committed=None, lag=None),  # never committed
        PartitionLag("scored", 0, end=7, committed=7, lag=0),
    ]
    assert total_lag(rows) == 4


def test_the_gauge_holds_the_partitions_this_worker_holds() -> None:
    registry = CollectorRegistry()
    gauge = Gauge("lag", "", ["topic", "partition"], registry=registry)
    rows = partition_lags(
        {("raw", 0): 10, ("raw", 1): 5, ("raw", 2): 3}, {("raw", 0): 6, ("raw", 1): 5}
    )

    set_lag_gauge(gauge, rows, held={("raw", 0), ("raw", 2)})
    assert registry.get_sample_value("lag", {"topic": "raw", "partition": "0"}) == 4
    assert registry.get_sample_value("lag", {"topic": "raw", "partition": "1"}) is None  # not held
    assert registry.get_sample_value("lag", {"topic": "raw", "partition": "2"}) is None  # no commit

    set_lag_gauge(gauge, rows, held={("raw", 1)})  # after a rebalance: the old series go
    assert registry.get_sample_value("lag", {"topic": "raw", "partition": "0"}) is None
    assert registry.get_sample_value("lag", {"topic": "raw", "partition": "1"}) == 0
