"""Feeds through the whole pipeline: scheduler -> news.raw -> worker -> PostgreSQL.

Three outlets carry the same story: one counted article, two stored duplicates that
point at it and are left out of the time series."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, text

from storage.models import ArticleRow
from testkit.processes import FinsentProcess, wait_until
from tests.integration.sources.feedserver import FeedServer, Reply, rss


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    with FeedServer().running() as server:
        yield server


OUTLETS = {
    "wire-a": "Oil prices jump as OPEC cuts output - Wire A",
    "wire-b": "Oil Prices Jump As OPEC Cuts Output | Wire B",
    "wire-c": "Oil prices jump as OPEC cuts its output",
}


def test_three_outlets_one_counted_article_two_duplicates(
    feed_server: FeedServer,
    worker: FinsentProcess,
    worker_env: dict[str, str],
    db: Engine,
    tmp_path: Path,
) -> None:
    lines = ["feeds:"]
    for name, title in OUTLETS.items():
        feed_server.routes[f"/{name}"] = Reply(
            200, rss([{"title": title, "link": f"https://{name}.example/markets/oil"}])
        )
        lines.append(
            f"  - {{name: {name}, url: '{feed_server.url('/' + name)}', interval: 30, "
            "allow_private_network: true}"
        )
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text("\n".join(lines) + "\n")
    env = dict(worker_env, FINSENT_FEEDS_FILE=str(feeds), FINSENT_FEEDS_JITTER="0")
    env["FINSENT_FEEDS_HOST_DELAY"] = "0.5"  # the three polls come one after the other
    scheduler = FinsentProcess(["scheduler"], env, tmp_path / "scheduler.log").start()
    try:
        wait_until(lambda: _count(db, "SELECT count(*) FROM articles") == 3, 120, "3 articles")
    finally:
        scheduler.stop()
    with db.connect() as conn:
        rows = conn.execute(select(ArticleRow.source, ArticleRow.id, ArticleRow.duplicate_of)).all()
        counted = conn.execute(
            text(
                "SELECT coalesce(sum(n_negative + n_neutral + n_positive), 0) FROM topic_buckets "
                "WHERE topic = 'market' AND width_s = 60"
            )
        ).scalar_one()
    firsts = [r for r in rows if r.duplicate_of is None]
    copies = [r for r in rows if r.duplicate_of is not None]
    assert len(firsts) == 1 and len(copies) == 2
    assert {c.duplicate_of for c in copies} == {firsts[0].id}
    assert counted == 1
    assert "Traceback" not in scheduler.log()


def _count(engine: Engine, sql: str) -> Any:
    with engine.connect() as conn:
        return conn.execute(text(sql)).scalar_one()


def test_up_polls_the_configured_feeds_instead_of_the_demo(
    feed_server: FeedServer, cli_env: dict[str, str], pipeline_model: Path, tmp_path: Path
) -> None:

    from storage.articles import latest_articles
    from storage.db import make_engine
    from streams.broker_process import free_port

    feed_server.serve_file("/rss2", "rss2.xml")
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(
        f"feeds:\n  - {{name: harbor, url: '{feed_server.url('/rss2')}', interval: 60, "
        "allow_private_network: true}\n"
    )
    cli_env.update(
        FINSENT_BROKER_PORT=str(free_port()),
        FINSENT_DASHBOARD_PORT=str(free_port()),
        FINSENT_MODEL_PATH=str(pipeline_model),
        FINSENT_MODEL_VARIANT="fp32",
        FINSENT_FEEDS_FILE=str(feeds),
        FINSENT_FEEDS_JITTER="0",
    )
    up = FinsentProcess(["up", "--demo"], cli_env, tmp_path / "up.log").start()
    try:
        up.wait_for_log("finsent is up: worker, scheduler, dashboard", timeout=120)
        assert "feeds are configured: polling them instead of replaying the demo" in up.log()
        engine = make_engine(up.database_url())
        wait_until(
            lambda: len(latest_articles(engine, limit=100)) == 3, 240, "the feed's 3 articles"
        )
        assert {a.source for a in latest_articles(engine, limit=100)} == {"harbor"}
        assert "[scheduler] " in up.log() and "[demo]" not in up.log()
        engine.dispose()
        assert up.interrupt(timeout=60) == 0, up.log()[-3000:]
    finally:
        up.kill()
    assert "scheduler stopped" in up.log()


def test_up_refuses_a_malformed_feed_file_before_anything_starts(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    import subprocess

    from testkit.processes import FINSENT

    feeds = tmp_path / "feeds.yaml"
    feeds.write_text("feeds:\n  - {name: a, url: 'https://a.example/', interval: never}\n")
    cli_env["FINSENT_FEEDS_FILE"] = str(feeds)
    # ports of its own: `up` checks them first, and 9092 may be another finsent's
    from streams.broker_process import free_port

    cli_env.update(FINSENT_BROKER_PORT=str(free_port()), FINSENT_DASHBOARD_PORT=str(free_port()))
    done = subprocess.run([FINSENT, "up"], env=cli_env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert f"error: {feeds} line 2: 'never' is not a duration" in done.stderr
    assert "training" not in done.stdout


def test_items_a_restarted_broker_lost_are_published_again_and_stored_once(
    feed_server: FeedServer,
    cli_env: dict[str, str],
    pg_url: str,
    pipeline_model: Path,
    db: Engine,
    tmp_path: Path,
) -> None:
    """The finding of issue 19: the scheduler publishes a feed to the embedded broker
    while no worker runs; the broker restarts on the same port (memory only: the records
    are gone); then a worker starts. Every item is stored once, re-published by the
    scheduler because the worker had not stored it."""
    from streams.embedded_broker import EmbeddedBroker
    from tests.conftest import pipeline_env

    headlines = [
        "Acme beats quarterly earnings estimates",
        "Globex shares slump on weak guidance",
        "Central bank holds interest rates steady",
        "Oil prices climb after supply cuts",
        "Initech announces layoffs in Texas",
        "Umbrella recalls vaccine batch",
        "Bond yields fall to two-month low",
        "Hooli unveils new phone at launch event",
        "Copper rallies on Chinese demand",
        "Wonka chocolate sales surge in Europe",
        "Tyrell wins large defence contract",
        "Vandelay Industries files for bankruptcy",
    ]
    n = len(headlines)
    feed_server.routes["/wire"] = Reply(
        200,
        rss([{"title": t, "link": f"https://w.example/{i}"} for i, t in enumerate(headlines)]),
    )
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(
        f"feeds:\n  - {{name: wire, url: '{feed_server.url('/wire')}', interval: 3600, "
        "allow_private_network: true}\n"
    )
    broker = EmbeddedBroker(port=0, startup_timeout=60).start()
    try:
        env = pipeline_env(cli_env, broker.bootstrap_servers, pg_url, pipeline_model, 2)
        env.update(
            FINSENT_FEEDS_FILE=str(feeds),
            FINSENT_FEEDS_JITTER="0",
            FINSENT_FEEDS_REPUBLISH_AFTER="2",
            FINSENT_FEEDS_REPUBLISH_ATTEMPTS="8",
            FINSENT_KAFKA_PUBLISH_TIMEOUT="5",
        )
        scheduler = FinsentProcess(["scheduler"], env, tmp_path / "scheduler.log").start()
        wait_until(
            lambda: _count(db, "SELECT count(*) FROM published_items") == n, 120, "published"
        )
        broker.stop()  # everything it held is gone
        broker = EmbeddedBroker(port=broker.port, startup_timeout=60).start()
        worker = FinsentProcess(["worker"], env, tmp_path / "worker.log").start()
        wait_until(lambda: _count(db, "SELECT count(*) FROM articles") == n, 240, f"{n} articles")
        settled = "SELECT count(*) FROM published_items WHERE state = 'stored'"
        wait_until(lambda: _count(db, settled) == n, 60, "every item settled as stored")
        time.sleep(5)  # a late repeat would be absorbed, never stored twice
        scheduler.stop()
        worker.stop()
    finally:
        broker.stop()
    assert _count(db, "SELECT count(DISTINCT id) FROM articles") == n
    assert _count(db, "SELECT count(*) FROM article_sentiment") == n
    assert "re-published" in scheduler.log() and "not stored after 2s" in scheduler.log()
    assert "Traceback" not in scheduler.log()
