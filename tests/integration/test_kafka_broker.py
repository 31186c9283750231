"""`finsent broker --kind kafka`: Apache Kafka itself, its log kept across a restart."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import psutil
import pytest

from streams.broker_process import answers_metadata, free_port
from testkit.processes import FINSENT, consume_all, unique_prefix
from tests.conftest import KAFKA_JARS


@pytest.fixture
def kafka_env(cli_env: dict[str, str]) -> dict[str, str]:
    cli_env.update(FINSENT_BROKER_KIND="kafka", FINSENT_BROKER_JARS_DIR=str(KAFKA_JARS))
    return cli_env


def start_broker(env: dict[str, str], port: int) -> tuple[subprocess.Popen[str], str]:
    """``finsent broker`` answering on ``port``, and the three lines it printed then."""
    proc = subprocess.Popen(
        [FINSENT, "broker", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    first = proc.stdout.readline().strip()
    if first != f"bootstrap servers: 127.0.0.1:{port}":
        proc.kill()
        raise AssertionError(f"{first!r}\n{proc.communicate()[1][-3000:]}")
    # read here, not by communicate(), which reads past what readline() buffered
    return proc, first + "\n" + proc.stdout.readline() + proc.stdout.readline()


def stop_broker(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "broker stopped" in out


def test_records_and_topics_outlive_a_restart(kafka_env: dict[str, str], tmp_path: Path) -> None:
    port = free_port()
    prefix = unique_prefix()
    kafka_env.update(
        FINSENT_KAFKA_BOOTSTRAP_SERVERS=f"127.0.0.1:{port}",
        FINSENT_KAFKA_TOPIC_PREFIX=prefix,
        FINSENT_KAFKA_PARTITIONS="3",
    )
    broker_env = {k: v for k, v in kafka_env.items() if k != "FINSENT_KAFKA_BOOTSTRAP_SERVERS"}
    items = tmp_path / "items.jsonl"
    items.write_text(
        "".join(json.dumps({"title": f"Story {n}", "source": "wire"}) + "\n" for n in range(25))
    )

    proc, header = start_broker(broker_env, port)
    try:
        java = [p for p in psutil.Process(proc.pid).children(recursive=True) if "java" in p.name()]
        assert java and "kafka.Kafka" in java[0].cmdline(), "Apache Kafka runs as a java child"
        published = subprocess.run(
            [FINSENT, "publish", str(items)], env=kafka_env, capture_output=True, text=True
        )
        assert published.returncode == 0, published.stderr
        assert "published 25 of 25 items" in published.stdout
        stop_broker(proc)
    finally:
        proc.kill()
    assert f"Apache Kafka, log under {tmp_path / 'data' / 'kafka'}" in header
    assert not answers_metadata("127.0.0.1", port, timeout=0.5)

    proc, _ = start_broker(broker_env, port)  # the same data directory
    try:
        got = consume_all(f"127.0.0.1:{port}", f"{prefix}news.raw", expect=25, timeout=60)
        titles = sorted(json.loads(value or b"{}")["title"] for _, value in got)
        assert titles == sorted(f"Story {n}" for n in range(25))
        stop_broker(proc)
    finally:
        proc.kill()


def test_jars_that_cannot_be_had_are_one_line(cli_env: dict[str, str], tmp_path: Path) -> None:
    cli_env.update(
        FINSENT_BROKER_KIND="kafka",
        FINSENT_BROKER_JARS_DIR=str(tmp_path / "no-jars-yet"),
        FINSENT_BROKER_MAVEN_REPOSITORY=f"http://127.0.0.1:{free_port()}/maven2",
    )
    result = subprocess.run(
        [FINSENT, "broker", "--port", str(free_port())],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr
    assert "cannot download http://127.0.0.1:" in errors[0] and ".jar" in errors[0]
