"""Topic names (one configurable prefix) and their explicit creation."""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass

from streams.exceptions import BrokerError

log = logging.getLogger(__name__)


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


def ensure_topics(
    bootstrap_servers: str,
    names: list[str],
    partitions: int,
    replication_factor: int = 1,
    *,
    timeout: float = 30.0,
) -> list[str]:
    """Create the topics that do not exist yet, with ``partitions`` each; return those
    created. (Auto-created topics would get the broker's default partition count.)
    ``timeout`` bounds reaching the broker and each request, in seconds."""
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.errors import KafkaError, TopicAlreadyExistsError

    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap_servers.split(","),
            client_id="finsent-admin",
            request_timeout_ms=int(timeout * 1000),
            bootstrap_timeout_ms=int(timeout * 1000),
        )
    except KafkaError as e:
        raise BrokerError(f"cannot reach Kafka at {bootstrap_servers}: {e}") from None
    try:
        existing = set(admin.list_topics())
        missing = [n for n in names if n not in existing]
        if missing:
            # another worker may create one between our list and our create
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics(
                    [NewTopic(n, partitions, replication_factor) for n in missing],
                    timeout_ms=int(timeout * 1000),
                )
            log.info("created topics %s with %d partitions", missing, partitions)
        return missing
    except KafkaError as e:
        raise BrokerError(f"cannot create topics on {bootstrap_servers}: {e}") from None
    finally:
        admin.close()
