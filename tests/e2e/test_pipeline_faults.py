"""Faults while news streams through: workers killed with -9, the database cut off.
Nothing may be lost and no bucket counted twice.

The suite runs them at CI sizes; ``make chaos`` at full sizes (``FINSENT_CHAOS_SIZE=full``:
20,000 items through five kills, 6,000 through a 30 s outage), and prints each run's
figures with the cluster scenarios of ``tests/chaos``."""

from __future__ import annotations

import os
import random
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine

from storage.models import ArticleRow, ArticleSentimentRow
from streams.topics import topic_names
from testkit.processes import FinsentProcess, wait_until
from tests.chaos.results import ChaosResult
from tests.e2e.test_pipeline import count, item_id, news, produce
from tests.integration.test_storage_writes import recount, stored_buckets
from tests.netproxy import CuttableProxy

# Long runs about the worker and the database, not the broker: on the production broker.
pytestmark = [pytest.mark.broker_kinds("kafka"), pytest.mark.faults]


@dataclass(frozen=True, slots=True)
class Sizes:
    kill_items: int
    kills: int
    outage_items: int
    outage_s: float


CI_SIZES = Sizes(kill_items=3000, kills=5, outage_items=1500, outage_s=30.0)
FULL_SIZES = Sizes(kill_items=20_000, kills=5, outage_items=6000, outage_s=30.0)
SIZES = FULL_SIZES if os.environ.get("FINSENT_CHAOS_SIZE") == "full" else CI_SIZES


def result(scenario: str, db: Engine, published: int, started: float) -> ChaosResult:
    """What the run left in the database, as a row of the chaos table."""
    stored = count(db, ArticleRow)
    expected, actual = recount(db), stored_buckets(db)
    row = ChaosResult(
        scenario=scenario,
        published=published,
        stored=stored,
        lost=published - stored,
        duplicate_records=count(db, ArticleSentimentRow) - stored,
        miscounted_buckets=sum(actual.get(k) != v for k, v in expected.items())
        + len(actual.keys() - expected.keys()),
        drain_s=round(time.monotonic() - started, 1),
    )
    row.save()
    return row


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


def test_kill_9_five_times_loses_nothing_and_counts_once(
    worker_env: dict[str, str], db: Engine, tmp_path: Path
) -> None:
    n = SIZES.kill_items
    bootstrap = worker_env["FINSENT_KAFKA_BOOTSTRAP_SERVERS"]
    topics = topic_names(worker_env["FINSENT_KAFKA_TOPIC_PREFIX"])
    log = tmp_path / "worker.log"
    worker = FinsentProcess(["worker"], worker_env, log).start()
    worker.wait_for_log("[^Worker]: Ready", timeout=180)
    started = time.monotonic()
    producer = stream_in_background(bootstrap, topics.raw, n, chunks=20, pause=1.0)
    rng = random.Random(20261129)
    try:
        for _ in range(SIZES.kills):
            time.sleep(rng.uniform(3.0, 9.0))
            worker.kill()
            worker = FinsentProcess(["worker"], worker_env, log).start()
        producer.join(timeout=300)
        wait_until(lambda: count(db, ArticleRow) >= n, 600, f"{n:,} stored articles", every=2)
        time.sleep(3)  # anything replayed late must not change the counts
        row = result(f"worker kill -9 x{SIZES.kills} mid-drain", db, n, started)
        assert (row.stored, row.lost, row.duplicate_records) == (n, 0, 0)
        assert stored_buckets(db) == recount(db)
        assert worker.alive, worker.log()[-3000:]
    finally:
        worker.stop()


def test_a_30_second_database_outage_loses_nothing(
    worker_env: dict[str, str], db: Engine, pg_url: str, tmp_path: Path
) -> None:
    bootstrap = worker_env["FINSENT_KAFKA_BOOTSTRAP_SERVERS"]
    topics = topic_names(worker_env["FINSENT_KAFKA_TOPIC_PREFIX"])
    proxy, worker_env["FINSENT_DATABASE_URL"] = CuttableProxy.for_database(pg_url)
    worker_env["FINSENT_PIPELINE_RETRY_MAX_DELAY"] = "2"
    worker = FinsentProcess(["worker"], worker_env, tmp_path / "worker.log").start()
    try:
        worker.wait_for_log("[^Worker]: Ready", timeout=180)
        n = SIZES.outage_items
        started = time.monotonic()
        producer = stream_in_background(bootstrap, topics.raw, n, chunks=10, pause=1.0)
        wait_until(lambda: count(db, ArticleRow) > 200, 180, "the first stored articles")
        proxy.cut()
        cut_at, log_at = count(db, ArticleRow), len(worker.log())
        time.sleep(SIZES.outage_s)
        assert count(db, ArticleRow) == cut_at  # nothing got through while cut
        during = worker.log()[log_at:]
        proxy.restore()
        producer.join(timeout=300)
        wait_until(lambda: count(db, ArticleRow) >= n, 600, f"{n:,} stored articles", every=2)
        time.sleep(3)
        row = result(f"PostgreSQL cut off {SIZES.outage_s:.0f} s", db, n, started)
        assert (row.stored, row.lost, row.duplicate_records) == (n, 0, 0)
        assert stored_buckets(db) == recount(db)
        assert "saving to the database failed" in worker.log()
        # One line per message while the database is away (the driver's errors span
        # several), and the counters flush (every 5 s) says so once, not each time.
        lines = during.splitlines()
        assert all(re.match(r"\[?\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", line) for line in lines), during
        assert sum("writing the worker counters failed" in line for line in lines) <= 1, during
        assert "writing the worker counters still failing" not in during
        assert worker.alive, worker.log()[-3000:]
    finally:
        worker.stop()
        proxy.close()
