"""A worker that outlives a restart of a broker which forgot its topics (issue 19, item 2).

The embedded broker keeps nothing across a restart. The next client to ask for a topic
has it auto-created with the broker's default partition count (4 on the embedded one),
not the worker's. Before: the worker kept the 2 partitions it had been assigned, never
read the other two, and the items published there were never stored, without a word.
And it went on fetching its two partitions at the positions it had in the old topic:
the new records below them were skipped, and their offsets committed for the next
worker.
"""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import Engine

from storage.models import ArticleRow
from streams.embedded_broker import EmbeddedBroker
from streams.topics import TOPICS_CHANGED, describe_topics, topic_names
from testkit.processes import FinsentProcess, wait_until
from tests.conftest import pipeline_env
from tests.e2e.test_pipeline import count, item_id, news, produce


def test_a_worker_whose_broker_forgot_its_topics_stops_and_a_fresh_one_stores_all(
    cli_env: dict[str, str], pg_url: str, pipeline_model: Path, db: Engine, tmp_path: Path
) -> None:
    broker = EmbeddedBroker(port=0, startup_timeout=60).start()
    worker = None
    try:
        env = pipeline_env(cli_env, broker.bootstrap_servers, pg_url, pipeline_model, 2)
        env["FINSENT_KAFKA_TOPIC_CHECK_INTERVAL"] = "2"
        raw = topic_names(env["FINSENT_KAFKA_TOPIC_PREFIX"]).raw
        log = tmp_path / "worker.log"
        worker = FinsentProcess(["worker"], env, log).start()
        worker.wait_for_log("[^Worker]: Ready", timeout=180)
        first = [(item_id(i).encode(), news(i)) for i in range(20)]
        produce(broker.bootstrap_servers, raw, first)
        wait_until(lambda: count(db, ArticleRow) == 20, 120, "the first 20 articles")

        broker.stop()  # every topic, record and offset gone
        broker = EmbeddedBroker(port=broker.port, startup_timeout=60).start()
        # more records per partition than the worker's old positions (about 10)
        second = [(item_id(i).encode(), news(i)) for i in range(20, 120)]
        produce(broker.bootstrap_servers, raw, second)  # auto-creates raw: 4 partitions
        assert describe_topics(broker.bootstrap_servers, [raw])[raw].partitions == 4

        assert worker.proc is not None
        assert worker.proc.wait(timeout=90) == TOPICS_CHANGED
        stopped = worker.log()
        said = r"ERROR .*the topics this worker reads changed under it: .*news\."
        assert re.search(said, stopped)
        assert "Traceback" not in stopped
        assert "cannot rewind" not in stopped  # the next worker reads the new topics whole

        # what finsent up and compose do: start it again; it reads all four partitions
        worker = FinsentProcess(["worker"], env, log).start()
        wait_until(lambda: count(db, ArticleRow) == 120, 180, "all 120 articles")
        assert worker.alive
        assert "Traceback" not in worker.log()
    finally:
        if worker is not None:
            worker.stop()
        broker.stop()
