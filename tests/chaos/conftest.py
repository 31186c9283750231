"""A three-node Apache Kafka cluster and workers on it, for the chaos suite.

Topics get three replicas and ``min.insync.replicas=2``; every producer sends with
acks=all and idempotence. ``make chaos`` runs this suite (it takes minutes of wall
clock: a broker stays down for 60 s) and prints the figures each scenario recorded;
``make test`` leaves it out.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from streams.kafka_cluster import KafkaCluster
from tests.conftest import KAFKA_JARS, pipeline_env


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[KafkaCluster]:
    """Three Apache Kafka nodes, fresh for each scenario."""
    with KafkaCluster(
        size=3, data_dir=tmp_path / "kafka", jars_dir=KAFKA_JARS, startup_timeout=180
    ) as running:
        yield running


@pytest.fixture
def chaos_env(
    cli_env: dict[str, str], cluster: KafkaCluster, pg_url: str, pipeline_model: Path
) -> dict[str, str]:
    """A worker's environment on the cluster: replicated topics of its own."""
    env = pipeline_env(cli_env, cluster.bootstrap_servers, pg_url, pipeline_model, partitions=6)
    env.update(
        FINSENT_KAFKA_REPLICATION_FACTOR="3",
        FINSENT_KAFKA_MIN_INSYNC_REPLICAS="2",
        FINSENT_PIPELINE_RETRY_MAX_DELAY="2",
    )
    return env


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The figures of this run's scenarios, as the table BENCHMARKS.md quotes."""
    from tests.chaos.results import SAVED, summary_lines

    if SAVED:
        terminalreporter.section("chaos results (test-artifacts/chaos-results.jsonl)")
        for line in summary_lines(SAVED):
            terminalreporter.write_line(line)
