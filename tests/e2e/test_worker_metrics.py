"""The worker's Prometheus endpoint and its counters in the database, scraped while a real
worker processes real records."""

from __future__ import annotations

import re
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, select

from storage.models import WorkerCountersRow
from streams.broker_process import free_port
from streams.topics import topic_names
from testkit.processes import FinsentProcess, wait_until
from tests.e2e.test_pipeline import news, produce

pytestmark = pytest.mark.e2e


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of ``/metrics``, keyed by name and sorted labels."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        assert response.headers["Content-Type"].startswith("text/plain")
        text = response.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


@pytest.fixture
def metered_worker(
    worker_env: dict[str, str], tmp_path: Path, db: Engine
) -> Iterator[tuple[FinsentProcess, int]]:
    port = free_port()
    env = {
        **worker_env,
        "FINSENT_METRICS_WORKER_PORT": str(port),
        "FINSENT_METRICS_FLUSH_INTERVAL": "0.5",
        "FINSENT_METRICS_LAG_INTERVAL": "0.5",
    }
    proc = FinsentProcess(["worker"], env, tmp_path / "worker.log").start()
    proc.wait_for_log("[^Worker]: Ready", timeout=180)
    yield proc, port
    proc.stop()


def test_metrics_move_while_the_worker_stores(
    metered_worker: tuple[FinsentProcess, int], worker_env: dict[str, str], db: Engine
) -> None:
    worker, port = metered_worker
    names = topic_names(worker_env["FINSENT_KAFKA_TOPIC_PREFIX"])
    bootstrap = worker_env["FINSENT_KAFKA_BOOTSTRAP_SERVERS"]
    stored = ("finsent_items_total", (("stage", "stored"), ("topic", names.scored)))
    assert scrape(port).get(stored, 0) == 0
    assert scrape(port)[("finsent_worker_ready", ())] == 1
    # the compose file's own health check, pointed at this worker, passes
    import yaml

    compose = yaml.safe_load((Path(__file__).parents[2] / "docker-compose.yml").read_text())
    check = compose["services"]["worker"]["healthcheck"]["test"]
    assert check[:3] == ["CMD", "python", "-c"]
    script = check[3].replace("127.0.0.1:9108", f"127.0.0.1:{port}")
    assert subprocess.run([sys.executable, "-c", script], timeout=30).returncode == 0

    produce(bootstrap, names.raw, [(None, news(n)) for n in range(300)])
    produce(bootstrap, names.raw, [(None, b"not json"), (None, b'{"title": ""}')])

    wait_until(lambda: scrape(port).get(stored) == 300, 180, "300 stored items in /metrics")
    after = scrape(port)
    consumed = ("finsent_items_total", (("stage", "consumed"), ("topic", names.raw)))
    assert after[consumed] == 302
    dead = ("finsent_deadlettered_total", (("stage", "classify"), ("topic", names.raw)))
    assert after[dead] == 2
    assert after[("finsent_publish_to_stored_seconds_count", ())] == 300
    # one log format for the whole process: Faust's records in finsent's, no bars
    log = worker.log()
    assert "[^Worker]: Ready" in log
    assert not re.search(r"^\[\d{4}-", log, re.M), log[-3000:]
    assert "Loading weights" not in log
    assert after[("finsent_inference_seconds_count", ())] >= 1
    assert after[("finsent_batch_size_sum", (("agent", "classify"),))] == 302

    # the group's lag on the partitions this worker holds (it holds them all): a series
    # per partition of news.raw it has committed, back to 0 once the offsets are
    def lag() -> dict[int, float]:
        return {
            int(dict(labels)["partition"]): value
            for (name, labels), value in scrape(port).items()
            if name == "finsent_consumer_lag" and dict(labels)["topic"] == names.raw
        }

    partitions = int(worker_env["FINSENT_KAFKA_PARTITIONS"])
    wait_until(
        lambda: lag() and sum(lag().values()) == 0, 60, "finsent_consumer_lag of news.raw at 0"
    )
    assert set(lag()) <= set(range(partitions))

    def counters() -> dict[str, tuple[int, int | None]]:
        with db.connect() as conn:
            rows = conn.execute(
                select(WorkerCountersRow.agent, WorkerCountersRow.processed, WorkerCountersRow.lag)
            ).all()
        return {agent: (processed, lag) for agent, processed, lag in rows}

    wait_until(
        lambda: counters() == {"classify": (302, 0), "persist": (300, 0)},
        30,
        "counters and the drained lag in the database",
    )


def test_a_taken_metrics_port_is_a_clear_start_up_error(
    worker_env: dict[str, str], tmp_path: Path, db: Engine
) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {**worker_env, "FINSENT_METRICS_WORKER_PORT": str(port)}
        proc = FinsentProcess(["worker"], env, tmp_path / "worker.log").start()
        assert proc.proc is not None
        code = proc.proc.wait(timeout=120)
    assert code == 1
    assert f"cannot serve metrics on 127.0.0.1:{port}" in proc.log()
    assert "Traceback" not in proc.log()
