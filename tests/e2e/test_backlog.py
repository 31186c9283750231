"""A worker that starts in front of a backlog stores its first items within a few
batches, not after classifying most of the backlog (issue 19, item 7)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from storage.models import ArticleRow
from streams.broker_process import free_port
from streams.topics import topic_names
from testkit.processes import FinsentProcess, wait_until
from tests.e2e.test_pipeline import count, news, produce
from tests.e2e.test_worker_metrics import scrape

# On the embedded broker, whose fetches hand over a whole backlog at once: there an
# unbounded worker classified 5,888 of 10,000 items before it stored the first.
pytestmark = [pytest.mark.e2e, pytest.mark.broker_kinds("embedded")]

#: More than Faust's 4,096-record agent buffer: an unbounded fetch then holds records
#: that persist's wait behind.
BACKLOG = 10_000
BATCH = 128


def classified_when_first_stored(env: dict[str, str], tmp_path: Path, db: Engine) -> float:
    """Publish the backlog, start a worker, and return how many items it had classified
    when it stored its first article."""
    names = topic_names(env["FINSENT_KAFKA_TOPIC_PREFIX"])
    produce(
        env["FINSENT_KAFKA_BOOTSTRAP_SERVERS"], names.raw, [(None, news(n)) for n in range(BACKLOG)]
    )
    port = free_port()
    env = {
        **env,
        "FINSENT_METRICS_WORKER_PORT": str(port),
        "FINSENT_PIPELINE_BATCH_SIZE": str(BATCH),
    }
    worker = FinsentProcess(["worker"], env, tmp_path / "worker.log").start()
    scored = ("finsent_items_total", (("stage", "scored"), ("topic", names.raw)))
    stored = ("finsent_items_total", (("stage", "stored"), ("topic", names.scored)))
    seen: list[float] = []

    def first_stored() -> bool:
        try:
            sample = scrape(port)
        except OSError:  # not listening yet
            return False
        if sample.get(stored, 0) > 0:
            seen.append(sample.get(scored, 0))
            return True
        return False

    try:
        wait_until(first_stored, 240, "the first stored article", every=0.05)
        wait_until(lambda: count(db, ArticleRow) >= BACKLOG, 300, "the whole backlog", every=1)
        assert count(db, ArticleRow) == BACKLOG
        assert worker.alive, worker.log()[-3000:]
    finally:
        worker.stop()
    return seen[0]


def test_the_first_items_are_stored_within_a_few_batches(
    worker_env: dict[str, str], tmp_path: Path, db: Engine
) -> None:
    ahead = classified_when_first_stored(worker_env, tmp_path, db)
    # Fetches of FINSENT_PIPELINE_PREFETCH_BATCHES (2) batches: persist's records come
    # in with every fetch. Unbounded (0), the first stored item waited for 5,888 of the
    # 10,000 to be classified.
    assert ahead <= 12 * BATCH, f"{ahead:,.0f} items classified before the first was stored"
