"""Faults while news streams through: workers killed with -9, the database cut off.
Nothing may be lost and no bucket counted twice."""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine

from storage.models import Article, ArticleSentiment
from streams.topics import topic_names
from tests.e2e.test_pipeline import count, item_id, news, produce
from tests.integration.test_storage_writes import recount, stored_buckets
from tests.netproxy import CuttableProxy
from tests.processes import FinsentProcess, wait_until

# Long runs about the worker and the database, not the broker: on the production broker.
pytestmark = pytest.mark.broker_kinds("kafka")


def stream_in_background(
    bootstrap: str, topic: str, n: int, chunks: int, pause: float
) -> threading.Thread:
    """Publish items 0..n-1 in ``chunks`` bursts, ``pause`` seconds apart."""
    records = [(item_id(i).encode(), news(i)) for i in range(n)]
    size = -(-n // chunks)

    def run() -> None:
        for start in range(0, n, size):
            produce(bootstrap, topic, records[start : start + size])
            time.sleep(pause)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_kill_9_three_times_loses_nothing_and_counts_once(
    worker_env: dict[str, str], db: Engine, tmp_path: Path
) -> None:
    bootstrap = worker_env["FINSENT_KAFKA_BOOTSTRAP_SERVERS"]
    topics = topic_names(worker_env["FINSENT_KAFKA_TOPIC_PREFIX"])
    log = tmp_path / "worker.log"
    worker = FinsentProcess(["worker"], worker_env, log).start()
    worker.wait_for_log("[^Worker]: Ready", timeout=180)
    producer = stream_in_background(bootstrap, topics.raw, 5000, chunks=20, pause=1.0)
    rng = random.Random(20261129)
    try:
        for _ in range(3):
            time.sleep(rng.uniform(3.0, 9.0))
            worker.kill()
            worker = FinsentProcess(["worker"], worker_env, log).start()
        producer.join(timeout=300)
        wait_until(lambda: count(db, Article) >= 5000, 420, "5,000 stored articles", every=2)
        time.sleep(3)  # anything replayed late must not change the counts
        assert count(db, Article) == 5000
        assert count(db, ArticleSentiment) == 5000
        assert stored_buckets(db) == recount(db)
        assert worker.alive, worker.log()[-3000:]
    finally:
        worker.stop()


def test_a_20_second_database_outage_loses_nothing(
    worker_env: dict[str, str], db: Engine, pg_url: str, tmp_path: Path
) -> None:
    bootstrap = worker_env["FINSENT_KAFKA_BOOTSTRAP_SERVERS"]
    topics = topic_names(worker_env["FINSENT_KAFKA_TOPIC_PREFIX"])
    proxy, worker_env["FINSENT_DATABASE_URL"] = CuttableProxy.for_database(pg_url)
    worker_env["FINSENT_PIPELINE_RETRY_MAX_DELAY"] = "2"
    worker = FinsentProcess(["worker"], worker_env, tmp_path / "worker.log").start()
    try:
        worker.wait_for_log("[^Worker]: Ready", timeout=180)
        producer = stream_in_background(bootstrap, topics.raw, 2000, chunks=10, pause=1.0)
        wait_until(lambda: count(db, Article) > 200, 180, "the first stored articles")
        proxy.cut()
        cut_at = count(db, Article)
        time.sleep(20)
        assert count(db, Article) == cut_at  # nothing got through while cut
        proxy.restore()
        producer.join(timeout=300)
        wait_until(lambda: count(db, Article) >= 2000, 300, "2,000 stored articles", every=2)
        time.sleep(3)
        assert count(db, Article) == 2000
        assert stored_buckets(db) == recount(db)
        assert "saving to the database failed" in worker.log()
        assert worker.alive, worker.log()[-3000:]
    finally:
        worker.stop()
        proxy.close()
