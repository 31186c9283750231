"""Topic names (one configurable prefix) and their explicit creation."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from streams.exceptions import BrokerError

if TYPE_CHECKING:
    from kafka.admin import KafkaAdminClient

log = logging.getLogger(__name__)

#: Kafka's error code UNKNOWN_TOPIC_OR_PARTITION.
UNKNOWN_TOPIC = 3

#: A worker's exit status when its topics changed under it (``os.EX_TEMPFAIL``):
#: ``finsent up`` starts it again, as compose's restart policy does.
TOPICS_CHANGED = 75


@dataclass(frozen=True, slots=True)
class TopicNames:
    raw: str
    scored: str
    alerts: str
    deadletter: str

    def all(self) -> list[str]:
        return [self.raw, self.scored, self.alerts, self.deadletter]


def topic_names(prefix: str = "") -> TopicNames:
    return TopicNames(
        raw=f"{prefix}news.raw",
        scored=f"{prefix}news.scored",
        alerts=f"{prefix}alerts",
        deadletter=f"{prefix}news.deadletter",
    )


def open_admin(bootstrap_servers: str, timeout: float) -> KafkaAdminClient:
    """An admin client; ``timeout`` bounds reaching the broker and each request."""
    from kafka.admin import KafkaAdminClient
    from kafka.errors import KafkaError

    try:
        return KafkaAdminClient(
            bootstrap_servers=bootstrap_servers.split(","),
            client_id="finsent-admin",
            request_timeout_ms=int(timeout * 1000),
            bootstrap_timeout_ms=int(timeout * 1000),
        )
    except KafkaError as e:
        raise BrokerError(f"cannot reach Kafka at {bootstrap_servers}: {e}") from None


def ensure_topics(
    bootstrap_servers: str,
    names: list[str],
    partitions: int,
    replication_factor: int = 1,
    *,
    min_insync_replicas: int | None = None,
    timeout: float = 30.0,
) -> list[str]:
    """Create the topics that do not exist yet, with ``partitions`` each; return those
    created. (Auto-created topics would get the broker's default partition count.)
    ``min_insync_replicas`` None keeps the broker's default; ``timeout`` bounds reaching
    the broker and each request, in seconds. Topics that exist are left as they are."""
    from kafka.admin import NewTopic
    from kafka.errors import (
        InvalidReplicationFactorError,
        KafkaError,
        TopicAlreadyExistsError,
    )

    admin = open_admin(bootstrap_servers, timeout)
    try:
        existing = set(admin.list_topics())
        missing = [n for n in names if n not in existing]
        if missing:
            # another worker may create one between our list and our create
            configs = {}
            if min_insync_replicas is not None:
                configs["min.insync.replicas"] = str(min_insync_replicas)
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics(
                    [
                        NewTopic(n, partitions, replication_factor, topic_configs=configs)
                        for n in missing
                    ],
                    timeout_ms=int(timeout * 1000),
                )
            log.info(
                "created topics %s with %d partitions, %d replicas each",
                missing,
                partitions,
                replication_factor,
            )
        return missing
    except InvalidReplicationFactorError:
        raise BrokerError(
            f"cannot create topics with {replication_factor} replicas on {bootstrap_servers}: "
            "the cluster has fewer brokers (FINSENT_KAFKA_REPLICATION_FACTOR)"
        ) from None
    except KafkaError as e:
        raise BrokerError(f"cannot create topics on {bootstrap_servers}: {e}") from None
    finally:
        admin.close()


@dataclass(frozen=True, slots=True)
class TopicShape:
    """What identifies a topic as the one a consumer was assigned: the broker's id for
    it (None where the broker has none) and its partition count."""

    topic_id: str | None
    partitions: int


def describe_topics(
    bootstrap_servers: str, names: list[str], *, timeout: float = 10.0
) -> dict[str, TopicShape]:
    """The shape of each of ``names`` the broker knows now; a topic it does not know is
    left out. The request does not create topics (auto-creation off), so looking never
    changes what is looked at."""
    from kafka.errors import KafkaError

    admin = open_admin(bootstrap_servers, timeout)
    try:
        described = admin.describe_topics(names)
    except KafkaError as e:
        raise BrokerError(f"cannot describe topics on {bootstrap_servers}: {e}") from None
    finally:
        admin.close()
    # Only "unknown topic" means gone: another error (a broker still starting, a leader
    # moving) says nothing about the topic, so the look is not an answer.
    unclear = [t["name"] for t in described if t["error_code"] not in (0, UNKNOWN_TOPIC)]
    if unclear:
        raise BrokerError(f"the broker could not describe {', '.join(unclear)} just now")
    return {
        t["name"]: TopicShape(_topic_id(t.get("topic_id")), len(t["partitions"]))
        for t in described
        if t["error_code"] == 0
    }


def _topic_id(raw: object) -> str | None:
    """The id as text; None for a broker that has none (all zeros, or absent)."""
    text = str(raw) if raw is not None else ""
    return None if text.strip("0-") == "" else text


def topic_changes(before: Mapping[str, TopicShape], now: Mapping[str, TopicShape]) -> list[str]:
    """How the topics in ``before`` differ ``now``, one phrase each: gone, re-created
    (another id), or another partition count. Empty when they are the same topics."""
    changes = []
    for name, was in before.items():
        shape = now.get(name)
        if shape is None:
            changes.append(f"{name} is gone")
        elif was.topic_id and shape.topic_id and was.topic_id != shape.topic_id:
            changes.append(f"{name} was re-created ({shape.partitions} partitions)")
        elif was.partitions != shape.partitions:
            changes.append(f"{name} has {shape.partitions} partitions, not {was.partitions}")
    return changes


def recreated_topics(before: Mapping[str, TopicShape], now: Mapping[str, TopicShape]) -> list[str]:
    """The topics of ``before`` that are gone ``now`` or have another id: a position or
    committed offset kept for them points into a log that no longer exists (and may
    skip records of the new one that lie below it)."""
    return [
        name
        for name, was in before.items()
        if (shape := now.get(name)) is None
        or (was.topic_id and shape.topic_id and was.topic_id != shape.topic_id)
        or shape.partitions < was.partitions
    ]


def rewind_group(
    bootstrap_servers: str, group_id: str, topics: list[str], *, timeout: float = 10.0
) -> bool:
    """Make ``group_id``'s next member read ``topics`` from their start (storing is
    idempotent): commit the first offset of each of their partitions, from outside the
    group. A broker takes that only while the group has no member; the embedded one
    keeps a member that left, so then the group is deleted instead, and its next member
    reads every topic from the start. True: rewound; False: deleted."""
    from kafka import KafkaConsumer, TopicPartition
    from kafka.errors import CommitFailedError, KafkaError
    from kafka.structs import OffsetAndMetadata

    shapes = describe_topics(bootstrap_servers, topics, timeout=timeout)
    parts = [TopicPartition(t, p) for t, shape in shapes.items() for p in range(shape.partitions)]
    try:
        consumer = KafkaConsumer(
            bootstrap_servers=bootstrap_servers.split(","),
            group_id=group_id,
            client_id="finsent-admin",
            enable_auto_commit=False,
            request_timeout_ms=int(timeout * 1000),
        )
        try:
            first = consumer.beginning_offsets(parts, timeout_ms=int(timeout * 1000))
            offsets = {tp: OffsetAndMetadata(offset, "", -1) for tp, offset in first.items()}
            consumer.commit(offsets, timeout_ms=int(timeout * 1000))
            return True
        except CommitFailedError:
            pass
        finally:
            consumer.close()
        admin = open_admin(bootstrap_servers, timeout)
        try:
            admin.delete_groups([group_id])
        finally:
            admin.close()
        return False
    except KafkaError as e:
        raise BrokerError(f"cannot rewind {group_id} on {bootstrap_servers}: {e}") from None
