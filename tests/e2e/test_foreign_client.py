"""A client that is not ours: librdkafka (through confluent-kafka), the C client most
Kafka tools are built on, produces news our worker scores, and reads what it scored."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine

from storage.models import ArticleRow
from streams.records import stable_id
from streams.topics import topic_names
from testkit.processes import FinsentProcess, wait_until
from tests.e2e.test_pipeline import count

confluent_kafka = pytest.importorskip("confluent_kafka")


def test_librdkafka_produces_and_consumes(
    worker: FinsentProcess, worker_env: dict[str, str], db: Engine
) -> None:
    bootstrap = worker_env["FINSENT_KAFKA_BOOTSTRAP_SERVERS"]
    topics = topic_names(worker_env["FINSENT_KAFKA_TOPIC_PREFIX"])
    now = datetime.now(UTC).isoformat()
    # A foreign producer that sends no id and no schema: allowed. Every codec it may use.
    titles = [f"Crude oil slides as demand worries grow, day {n}" for n in range(50)]
    for n, codec in enumerate(("none", "gzip", "snappy", "lz4", "zstd")):
        producer = confluent_kafka.Producer(
            {"bootstrap.servers": bootstrap, "acks": "all", "compression.type": codec}
        )
        for title in titles[n * 10 : n * 10 + 10]:
            producer.produce(
                topics.raw,
                value=json.dumps({"title": title, "source": "librdkafka", "published_at": now}),
            )
        assert producer.flush(30) == 0
    wait_until(lambda: count(db, ArticleRow) >= 50, 180, "50 articles from librdkafka")
    assert count(db, ArticleRow) == 50

    consumer = confluent_kafka.Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"{topics.scored}-reader",
            "auto.offset.reset": "earliest",
            "session.timeout.ms": 6000,
        }
    )
    consumer.subscribe([topics.scored])
    scored: dict[str, dict[str, object]] = {}
    deadline = time.monotonic() + 90
    try:
        while len(scored) < 50 and time.monotonic() < deadline:
            message = consumer.poll(1.0)
            if message is None or message.error():
                continue
            value = json.loads(message.value())
            assert message.key().decode() == value["id"]
            scored[value["id"]] = value
    finally:
        consumer.close()
    assert set(scored) == {stable_id(None, "librdkafka", t) for t in titles}
    sample = next(iter(scored.values()))
    assert sample["schema"] == 1
    assert sample["sentiment"]["label"] in ("negative", "neutral", "positive")  # type: ignore[index]
    assert "oil-energy" in sample["topics"]  # type: ignore[operator]
