"""The local broker: starts, answers Kafka clients, refuses a taken port, stops (each kind)."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time

import pytest

from streams.broker_process import BrokerProcess, answers_metadata, free_port
from streams.embedded_broker import EmbeddedBroker
from streams.exceptions import BrokerPortInUse
from testkit.processes import FINSENT


def test_a_record_goes_through_the_broker(broker: BrokerProcess, topic_name: str) -> None:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    async def roundtrip() -> list[tuple[bytes | None, bytes | None]]:
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap_servers, acks="all")
        await producer.start()
        try:
            for i in range(3):
                await producer.send_and_wait(topic_name, f"v{i}".encode(), key=f"k{i}".encode())
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(
            topic_name,
            bootstrap_servers=broker.bootstrap_servers,
            auto_offset_reset="earliest",
            group_id=None,
        )
        await consumer.start()
        got: list[tuple[bytes | None, bytes | None]] = []
        try:
            deadline = time.monotonic() + 20
            while len(got) < 3 and time.monotonic() < deadline:
                batch = await consumer.getmany(timeout_ms=500)
                got += [(m.key, m.value) for msgs in batch.values() for m in msgs]
        finally:
            await consumer.stop()
        return got

    assert sorted(asyncio.run(roundtrip())) == [(b"k0", b"v0"), (b"k1", b"v1"), (b"k2", b"v2")]


def test_start_and_stop() -> None:
    b = EmbeddedBroker(port=0)
    with b:
        assert b.running and answers_metadata(b.host, b.port)
    assert not b.running
    assert not answers_metadata(b.host, b.port, timeout=0.5)
    b.stop()  # twice is fine


def test_a_taken_port_is_refused(broker: BrokerProcess) -> None:
    with pytest.raises(BrokerPortInUse, match=f"port {broker.port}"):
        EmbeddedBroker(port=broker.port).start()


def test_cli_refuses_a_taken_port(broker: BrokerProcess, cli_env: dict[str, str]) -> None:
    result = subprocess.run(
        [FINSENT, "broker", "--port", str(broker.port)],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"error: port {broker.port} on 127.0.0.1 is already in use" in result.stderr


def test_cli_runs_until_sigterm(cli_env: dict[str, str]) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [FINSENT, "broker", "--port", str(port)],
        env=cli_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == f"bootstrap servers: 127.0.0.1:{port}"
        assert answers_metadata("127.0.0.1", port)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "broker stopped" in out
    assert not answers_metadata("127.0.0.1", port, timeout=0.5)


def test_kill_9_of_finsent_broker_leaves_no_broker_behind(cli_env: dict[str, str]) -> None:
    import psutil

    port = free_port()
    proc = subprocess.Popen(
        [FINSENT, "broker", "--port", str(port)], env=cli_env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == f"bootstrap servers: 127.0.0.1:{port}"
        children = psutil.Process(proc.pid).children(recursive=True)
        assert children, "the broker runs as a child process"
        proc.kill()
        proc.wait(timeout=10)
        _, alive = psutil.wait_procs(children, timeout=15)
        assert not alive, [c.pid for c in alive]
        assert not answers_metadata("127.0.0.1", port, timeout=0.5)
    finally:
        proc.kill()
        proc.communicate()


def test_a_restarted_embedded_broker_has_finsent_topics_with_the_configured_partitions(
    cli_env: dict[str, str],
) -> None:
    """Issue 19, item 2: the embedded broker forgets its topics on a restart and creates
    one at the first client's request with its own 4 partitions (it ignores a request's
    auto-creation flag and cannot add partitions), so a publisher or scheduler that
    reached it first capped the pipeline at 4. `finsent broker` creates them first."""
    from kafka import KafkaProducer

    from streams.topics import describe_topics, topic_names

    port = free_port()
    env = {**cli_env, "FINSENT_KAFKA_PARTITIONS": "6", "FINSENT_KAFKA_TOPIC_PREFIX": "restart."}
    names = topic_names("restart.").all()
    bootstrap = f"127.0.0.1:{port}"
    for start in ("first", "restart"):
        proc = subprocess.Popen(
            [FINSENT, "broker", "--kind", "embedded", "--port", str(port)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == f"bootstrap servers: {bootstrap}"
            said = [proc.stdout.readline() for _ in range(2)]
            assert "finsent's topics have 6 partitions each" in said[1], said
            # a publisher's first send asks for the topic's metadata (auto-creating it)
            producer = KafkaProducer(bootstrap_servers=[bootstrap], acks="all")
            try:
                producer.send(names[0], key=b"k", value=b"v").get(timeout=30)
            finally:
                producer.close(timeout=5)
            shapes = describe_topics(bootstrap, names)
            assert {n: s.partitions for n, s in shapes.items()} == {n: 6 for n in names}, start
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=30)
            assert proc.returncode == 0, err
            assert "broker stopped" in out
        finally:
            proc.kill()
            proc.communicate()
