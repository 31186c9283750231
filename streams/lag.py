"""Consumer lag, the way Kafka defines it: per partition, the log end offset minus the
offset the consumer group has committed.

``kafka-consumer-groups.sh --describe`` shows the same figures: a partition the group has
not committed yet has no lag (shown "-"), not the whole log. The embedded broker answers
ListOffsets with the last batch's base offset + 1 when records arrive in batches, not the
log end (DESIGN.md): there the lag is too small by up to a batch per partition, and only
Apache Kafka's figures are exact. :func:`partition_lags` is the arithmetic on plain data;
:class:`LagReader` asks a broker, keeping its clients between reads, and
:func:`group_lag` asks once.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from streams.exceptions import BrokerError

if TYPE_CHECKING:
    from kafka import KafkaConsumer
    from kafka.admin import KafkaAdminClient


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


class LagReader:
    """Reads ``group_id``'s lag on ``topics`` through a consumer and an admin client kept
    open between reads (a worker reads every few seconds); a read that fails closes
    them, and the next read opens new ones. ``close()`` when done, or use ``with``."""

    def __init__(
        self,
        bootstrap_servers: str,
        group_id: str,
        topics: Sequence[str],
        *,
        timeout: float = 10.0,
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.group_id = group_id
        self.topics = tuple(topics)
        self.timeout = timeout
        self._consumer: KafkaConsumer | None = None
        self._admin: KafkaAdminClient | None = None
        # a worker reads in a thread of its own; a close at shutdown waits for that read
        self._lock = threading.Lock()

    def __enter__(self) -> LagReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def read(self) -> list[PartitionLag]:
        """The lag on every partition of the topics (a topic that does not exist has
        none): the group's committed offsets and each partition's end. Raises
        ``BrokerError`` when the broker does not answer within the timeout."""
        with self._lock:
            return self._read()

    def _read(self) -> list[PartitionLag]:
        from kafka import TopicPartition
        from kafka.errors import KafkaError

        millis = int(self.timeout * 1000)
        try:
            consumer, admin = self._clients()
            parts = [
                TopicPartition(topic, p)
                for topic in self.topics
                for p in sorted(consumer.partitions_for_topic(topic) or ())
            ]
            ends = consumer.end_offsets(parts, timeout_ms=millis) if parts else {}
            offsets = admin.list_group_offsets({self.group_id: parts or None})
        except (KafkaError, BrokerError) as e:
            self._close()
            raise BrokerError(
                f"cannot read {self.group_id}'s lag on {self.bootstrap_servers}: {e}"
            ) from None
        committed = {
            (tp.topic, tp.partition): meta.offset
            for tp, meta in offsets.get(self.group_id, {}).items()
            if meta is not None and meta.offset is not None and meta.offset >= 0
        }
        return partition_lags(
            {(tp.topic, tp.partition): end for tp, end in ends.items()}, committed
        )

    def close(self) -> None:
        """Close the clients (a later read opens new ones)."""
        with self._lock:
            self._close()

    def _close(self) -> None:
        consumer, admin, self._consumer, self._admin = self._consumer, self._admin, None, None
        for client in (consumer, admin):
            if client is not None:
                with contextlib.suppress(Exception):  # closing a broken client may raise
                    client.close()

    def _clients(self) -> tuple[KafkaConsumer, KafkaAdminClient]:
        from kafka import KafkaConsumer

        from streams.topics import open_admin

        if self._consumer is None:
            self._consumer = KafkaConsumer(
                bootstrap_servers=self.bootstrap_servers.split(","),
                client_id="finsent-lag",
                enable_auto_commit=False,
                request_timeout_ms=int(self.timeout * 1000),
            )
        if self._admin is None:
            self._admin = open_admin(self.bootstrap_servers, self.timeout)
        return self._consumer, self._admin


def group_lag(
    bootstrap_servers: str, group_id: str, topics: Sequence[str], *, timeout: float = 10.0
) -> list[PartitionLag]:
    """``group_id``'s lag on every partition of ``topics``, read once (:class:`LagReader`
    keeps its clients for repeated reads). Raises ``BrokerError`` when the broker does
    not answer within ``timeout``."""
    with LagReader(bootstrap_servers, group_id, topics, timeout=timeout) as reader:
        return reader.read()
