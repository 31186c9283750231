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
