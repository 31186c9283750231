"""Consumer lag, the way Kafka defines it: per partition, the log end offset minus the
offset the consumer group has committed.

``kafka-consumer-groups.sh --describe`` shows the same figures: a partition the group has
not committed yet has no lag (shown "-"), not the whole log. The embedded broker answers
ListOffsets with the last batch's base offset + 1 when records arrive in batches, not the
log end (DESIGN.md): there the lag is too small by up to a batch per partition, and only
Apache Kafka's figures are exact. :func:`partition_lags` is the arithmetic on plain data;
:func:`group_lag` asks a broker.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from streams.exceptions import BrokerError


@dataclass(frozen=True, slots=True)
class PartitionLag:
    """One partition's end offset, the group's committed offset (None: none yet) and the
    records between them (None without a commit)."""

    topic: str
    partition: int
    end: int
    committed: int | None
    lag: int | None


def partition_lags(
    ends: Mapping[tuple[str, int], int], committed: Mapping[tuple[str, int], int]
) -> list[PartitionLag]:
    """Every partition of ``ends`` with the group's lag on it, by topic and partition. A
    commit past the end (a log truncated under it) counts as no lag."""
    rows = []
    for (topic, partition), end in sorted(ends.items()):
        offset = committed.get((topic, partition))
        lag = None if offset is None else max(0, end - offset)
        rows.append(PartitionLag(topic, partition, end, offset, lag))
    return rows


def total_lag(rows: Sequence[PartitionLag]) -> int:
    """The records the group has yet to commit, over the partitions it has committed."""
    return sum(row.lag for row in rows if row.lag is not None)


def group_lag(
    bootstrap_servers: str, group_id: str, topics: Sequence[str], *, timeout: float = 10.0
) -> list[PartitionLag]:
    """``group_id``'s lag on every partition of ``topics`` (a topic that does not exist has
    none), read from the broker: the group's committed offsets and each partition's end.
    Raises ``BrokerError`` when the broker does not answer within ``timeout``."""
    from kafka import KafkaConsumer, TopicPartition
    from kafka.errors import KafkaError

    from streams.topics import open_admin

    millis = int(timeout * 1000)
    try:
        consumer = KafkaConsumer(
            bootstrap_servers=bootstrap_servers.split(","),
            client_id="finsent-lag",
            enable_auto_commit=False,
            request_timeout_ms=millis,
        )
        try:
            parts = [
                TopicPartition(topic, p)
                for topic in topics
                for p in sorted(consumer.partitions_for_topic(topic) or ())
            ]
            ends = consumer.end_offsets(parts, timeout_ms=millis) if parts else {}
        finally:
            consumer.close()
        admin = open_admin(bootstrap_servers, timeout)
        try:
            offsets = admin.list_group_offsets({group_id: parts or None}).get(group_id, {})
        finally:
            admin.close()
    except KafkaError as e:
        raise BrokerError(f"cannot read {group_id}'s lag on {bootstrap_servers}: {e}") from None
    committed = {
        (tp.topic, tp.partition): meta.offset
        for tp, meta in offsets.items()
        if meta is not None and meta.offset is not None and meta.offset >= 0
    }
    return partition_lags({(tp.topic, tp.partition): end for tp, end in ends.items()}, committed)
