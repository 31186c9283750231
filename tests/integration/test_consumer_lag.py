"""Consumer lag against real brokers: what ``kafka-consumer-groups.sh`` would show."""

from __future__ import annotations

import pytest

from streams.broker_process import BrokerProcess
from streams.lag import LagReader, group_lag, total_lag
from streams.topics import ensure_topics


def produce(bootstrap: str, topic: str, counts: dict[int, int], *, batched: bool) -> None:
    """``counts[p]`` records into partition ``p``: one send and flush at a time (each its
    own batch), or all sends then one flush (the producer batches them)."""
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=50)
    try:
        for partition, n in counts.items():
            for i in range(n):
                producer.send(topic, f"{partition}-{i}".encode(), partition=partition)
                if not batched:
                    producer.flush(10)
        producer.flush(10)
    finally:
        producer.close(5)


def commit(bootstrap: str, group: str, topic: str, offsets: dict[int, int]) -> None:
    """Commit ``offsets`` for ``group`` from outside it (the group has no member)."""
    from kafka import KafkaConsumer, TopicPartition
    from kafka.structs import OffsetAndMetadata

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    try:
        consumer.commit(
            {TopicPartition(topic, p): OffsetAndMetadata(o, "", -1) for p, o in offsets.items()}
        )
    finally:
        consumer.close()


def test_the_lag_is_the_end_minus_the_commit_per_partition(
    broker: BrokerProcess, topic_name: str
) -> None:
    bootstrap = broker.bootstrap_servers
    ensure_topics(bootstrap, [topic_name], partitions=3, timeout=30)
    produce(bootstrap, topic_name, {0: 7, 1: 3}, batched=False)
    commit(bootstrap, "lag-test", topic_name, {0: 2, 1: 3})

    rows = group_lag(bootstrap, "lag-test", [topic_name, "test.no-such-topic"], timeout=15)

    by_partition = {(r.topic, r.partition): (r.end, r.committed, r.lag) for r in rows}
    assert by_partition == {
        (topic_name, 0): (7, 2, 5),
        (topic_name, 1): (3, 3, 0),
        (topic_name, 2): (0, None, None),  # never committed: no lag, as Kafka's tool shows
    }
    assert total_lag(rows) == 5


@pytest.mark.broker_kinds("kafka")
def test_batched_records_count_in_full_on_apache_kafka(
    broker: BrokerProcess, topic_name: str
) -> None:
    """The embedded broker reports a batched partition's end as its last batch's base
    offset + 1 (DESIGN.md), so only Apache Kafka is checked with batches."""
    bootstrap = broker.bootstrap_servers
    ensure_topics(bootstrap, [topic_name], partitions=2, timeout=30)
    produce(bootstrap, topic_name, {0: 40, 1: 25}, batched=True)
    commit(bootstrap, "lag-batched", topic_name, {0: 10, 1: 0})

    rows = group_lag(bootstrap, "lag-batched", [topic_name], timeout=15)

    assert [(r.partition, r.end, r.lag) for r in rows] == [(0, 40, 30), (1, 25, 25)]


def test_a_kept_reader_sees_new_topics_records_and_commits(
    broker: BrokerProcess, topic_name: str
) -> None:
    """The worker's reader keeps its clients between reads: a topic created after its
    first read, and records and commits after its second, show in the next read."""
    bootstrap = broker.bootstrap_servers
    with LagReader(bootstrap, "lag-kept", [topic_name], timeout=15) as reader:
        assert reader.read() == []  # no such topic yet

        ensure_topics(bootstrap, [topic_name], partitions=1, timeout=30)
        produce(bootstrap, topic_name, {0: 4}, batched=False)
        commit(bootstrap, "lag-kept", topic_name, {0: 1})
        assert [(r.end, r.committed, r.lag) for r in reader.read()] == [(4, 1, 3)]

        produce(bootstrap, topic_name, {0: 2}, batched=False)
        commit(bootstrap, "lag-kept", topic_name, {0: 5})
        assert [(r.end, r.committed, r.lag) for r in reader.read()] == [(6, 5, 1)]
