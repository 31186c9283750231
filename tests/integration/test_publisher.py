"""The publisher when the broker goes away, and the topics it publishes to."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from streams.embedded_broker import EmbeddedBroker
from testkit.processes import FINSENT

# Publishers whose broker goes away: kafka-python leaves refused sockets (tests/conftest.py).
pytestmark = pytest.mark.refused_sockets


def test_a_replay_whose_broker_goes_away_names_what_was_not_acknowledged(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    """A dedicated broker (never the session's), stopped in the middle of a replay. The
    publisher runs in its own process, as a user runs it."""
    path = tmp_path / "items.jsonl"
    path.write_text(
        "".join(
            json.dumps(
                {"title": f"Item {n}", "source": "t", "published_at": f"2026-03-02T10:{n:02d}:00Z"}
            )
            + "\n"
            for n in range(12)
        )
    )
    with EmbeddedBroker(port=0, startup_timeout=60) as broker:
        env = {
            **cli_env,
            "FINSENT_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
            "FINSENT_KAFKA_PUBLISH_TIMEOUT": "5",  # the unacknowledged are named after 5 s
        }
        replay = subprocess.Popen(
            [FINSENT, "replay", str(path), "--speed", "60"],  # one item a second
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(4)
        broker.stop()
        out, err = replay.communicate(timeout=180)
    assert replay.returncode == 1, err
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, err
    missed = int(errors[0].removeprefix("error: ").split(" of 12 items were not acknowledged")[0])
    assert 1 <= missed <= 12
    assert "(ids " in errors[0] and "send the file again" in errors[0]
    assert f"replayed {12 - missed} of 12 items" in out


def test_the_scheduler_s_publisher_keeps_working_after_the_broker_restarts() -> None:
    """A restarted embedded broker does not know the producer's id: kafka-python's
    idempotent producer then fails every send. The publisher replaces it, and the
    records of the failed batch are acknowledged by the new one."""
    from streams.publish import Publisher
    from streams.topics import ensure_topics

    broker = EmbeddedBroker(port=0, startup_timeout=60).start()
    publisher: Publisher | None = None
    try:
        ensure_topics(broker.bootstrap_servers, ["news.raw"], 2, timeout=10)
        publisher = Publisher(broker.bootstrap_servers, "news.raw", timeout=5)
        assert publisher.send_records([("a", b"{}"), ("b", b"{}")]) == ["a", "b"]
        broker.stop()
        broker = EmbeddedBroker(port=broker.port, startup_timeout=60).start()
        ensure_topics(broker.bootstrap_servers, ["news.raw"], 2, timeout=10)
        assert sorted(publisher.send_records([("c", b"{}"), ("d", b"{}")])) == ["c", "d"]
        assert publisher.send_records([("e", b"{}")]) == ["e"]
    finally:
        if publisher is not None:
            publisher.close()
        broker.stop()


def test_publish_creates_news_raw_with_the_configured_partitions(
    broker: Any, cli_env: dict[str, str], tmp_path: Any
) -> None:
    from kafka import KafkaAdminClient

    from testkit.processes import unique_prefix
    from tests.integration.test_cli import run

    prefix = unique_prefix()
    path = tmp_path / "items.jsonl"
    path.write_text('{"title": "Oil jumps", "source": "t"}\n')
    env = {
        **cli_env,
        "FINSENT_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
        "FINSENT_KAFKA_TOPIC_PREFIX": prefix,
        "FINSENT_KAFKA_PARTITIONS": "6",
    }
    result = run(["publish", str(path)], env)
    assert result.returncode == 0, result.stderr
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap_servers)
    try:
        (described,) = admin.describe_topics([f"{prefix}news.raw"])
    finally:
        admin.close()
    assert len(described["partitions"]) == 6


@pytest.mark.parametrize("codec", ["lz4", "zstd"])
def test_publish_compresses_as_configured_and_any_consumer_reads_it(
    broker: Any, cli_env: dict[str, str], tmp_path: Any, codec: str
) -> None:
    from testkit.processes import consume_all, unique_prefix
    from tests.integration.test_cli import run

    prefix = unique_prefix()
    path = tmp_path / "items.jsonl"
    path.write_text("".join(f'{{"title": "Oil jumps {i}", "source": "t"}}\n' for i in range(50)))
    env = {
        **cli_env,
        "FINSENT_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
        "FINSENT_KAFKA_TOPIC_PREFIX": prefix,
        "FINSENT_KAFKA_COMPRESSION": codec,
    }
    result = run(["publish", str(path)], env)
    assert result.returncode == 0, result.stderr
    records = consume_all(broker.bootstrap_servers, f"{prefix}news.raw", expect=50)
    titles = sorted(json.loads(value or b"{}")["title"] for _, value in records)
    assert titles == sorted(f"Oil jumps {i}" for i in range(50))


@pytest.mark.broker_kinds("kafka")
def test_more_replicas_than_brokers_is_one_clear_line(
    broker: Any, cli_env: dict[str, str], tmp_path: Any
) -> None:
    from testkit.processes import unique_prefix
    from tests.integration.test_cli import run

    path = tmp_path / "items.jsonl"
    path.write_text('{"title": "Oil jumps", "source": "t"}\n')
    env = {
        **cli_env,
        "FINSENT_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
        "FINSENT_KAFKA_TOPIC_PREFIX": unique_prefix(),
        "FINSENT_KAFKA_REPLICATION_FACTOR": "3",
    }
    result = run(["publish", str(path)], env)
    assert result.returncode == 1
    assert "3 replicas" in result.stderr
    assert "FINSENT_KAFKA_REPLICATION_FACTOR" in result.stderr
    assert "Traceback" not in result.stderr
