"""Chaos on a three-node Apache Kafka cluster while news streams through the worker.

Each scenario breaks something mid-stream: the leader of a busy partition killed with
-9 and restarted, a broker stopped for a minute, one of three workers of one consumer
group killed with -9. After each: every acknowledged article stored exactly once, no
record written twice to ``news.raw`` (idempotent producers), the per-topic series equal
to a recount from the articles, and the consumer group's lag back to zero. What each
scenario measured goes to ``test-artifacts/chaos-results.jsonl`` (``make chaos`` prints
it; BENCHMARKS.md quotes it).
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from storage.alerts import list_alerts
from storage.articles import save_scored_batch
from storage.models import ArticleRow, ArticleSentimentRow
from streams import lag
from streams.kafka_cluster import KafkaCluster
from streams.topics import topic_names
from testkit.processes import FinsentProcess, consume_all, wait_until
from tests.alerting_support import article, fast_alerting_env
from tests.chaos.results import ChaosResult
from tests.e2e.test_alerts_e2e import RULES, oil_news
from tests.e2e.test_pipeline import count, item_id, news, produce
from tests.integration.test_storage_writes import recount, stored_buckets
from tests.webhook_receiver import ScriptedReceiver

# Every scenario stops brokers under in-process clients (see tests/conftest.py).
pytestmark = [pytest.mark.chaos, pytest.mark.refused_sockets]


# --- the stream and what the cluster says ----------------------------------------------


class Stream(threading.Thread):
    """Publishes items 0..n-1 in ``chunks`` bursts ``pause`` seconds apart, as a scraper
    would: one idempotent acks=all producer, every acknowledgement awaited."""

    def __init__(self, bootstrap: str, topic: str, n: int, chunks: int, pause: float) -> None:
        super().__init__(daemon=True)
        self.bootstrap, self.topic, self.n = bootstrap, topic, n
        self.size, self.pause = -(-n // chunks), pause
        self.acknowledged = 0
        self.error: BaseException | None = None
        #: When the broker acknowledged the last record (monotonic seconds).
        self.last_ack_at = 0.0

    def run(self) -> None:
        from kafka import KafkaProducer

        producer = KafkaProducer(
            bootstrap_servers=self.bootstrap.split(","),
            acks="all",
            enable_idempotence=True,
            linger_ms=5,
            delivery_timeout_ms=180_000,
        )
        try:
            for start in range(0, self.n, self.size):
                ids = range(start, min(start + self.size, self.n))
                futures = [
                    producer.send(self.topic, key=item_id(i).encode(), value=news(i)) for i in ids
                ]
                for future in futures:
                    future.get(timeout=200)
                    self.acknowledged += 1
                self.last_ack_at = time.monotonic()
                time.sleep(self.pause)
        except BaseException as e:  # the test reports it
            self.error = e
        finally:
            producer.close(timeout=10)

    def finish(self, timeout: float) -> None:
        self.join(timeout)
        assert not self.is_alive(), f"publishing did not finish within {timeout:.0f}s"
        assert self.error is None, f"publishing failed: {self.error!r}"
        assert self.acknowledged == self.n


class StoredSampler(threading.Thread):
    """Counts stored articles four times a second, for the longest stall after a fault."""

    def __init__(self, db: Engine) -> None:
        super().__init__(daemon=True)
        self.db = db
        self.samples: list[tuple[float, int]] = []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.samples.append((time.monotonic(), count(self.db, ArticleRow)))
            self.done.wait(0.25)

    def first_at(self, n: int) -> float:
        """When the stored count first reached ``n`` (monotonic seconds)."""
        return next(at for at, stored in self.samples if stored >= n)

    def longest_stall(self, since: float, until: float) -> float:
        """The longest time in [since, until] during which the stored count did not grow."""
        last_growth, longest, previous = since, 0.0, None
        for at, n in self.samples:
            if at > until:
                break
            if at >= since and previous is not None and n > previous:
                longest = max(longest, at - last_growth)
                last_growth = at
            previous = n
        return longest


def partition_leaders(bootstrap: str, topic: str) -> dict[int, int]:
    """Partition → id of the node that leads it."""
    from kafka.admin import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=bootstrap.split(","))
    try:
        (described,) = admin.describe_topics([topic])
        return {p["partition_index"]: p["leader_id"] for p in described["partitions"]}
    finally:
        admin.close()


def under_replicated(bootstrap: str, topic: str) -> int:
    """Partitions of ``topic`` whose in-sync replicas are fewer than their replicas."""
    from kafka.admin import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=bootstrap.split(","))
    try:
        (described,) = admin.describe_topics([topic])
        return sum(len(p["isr_nodes"]) < len(p["replica_nodes"]) for p in described["partitions"])
    finally:
        admin.close()


def group_lag(bootstrap: str, group: str, prefix: str) -> int:
    """Records the worker's group has not committed yet on its two topics (what the
    worker's own lag gauge reads, ``streams.lag``); -1 before it has committed any."""
    names = topic_names(prefix)
    rows = lag.group_lag(bootstrap, group, [names.raw, names.scored], timeout=15)
    if all(row.committed is None for row in rows):
        return -1
    return lag.total_lag(rows)


def start_worker(env: dict[str, str], log: Path) -> FinsentProcess:
    worker = FinsentProcess(["worker"], env, log).start()
    worker.wait_for_log("[^Worker]: Ready", timeout=240)
    return worker


def verify(
    result: ChaosResult,
    db: Engine,
    env: dict[str, str],
    sampler: StoredSampler,
    fault_at: float,
    published_at: float,
    seeded: int = 0,
) -> None:
    """Wait for the whole stream to be stored, then check and record everything.
    ``seeded``: articles the test wrote to the database itself, not through Kafka."""
    bootstrap = env["FINSENT_KAFKA_BOOTSTRAP_SERVERS"]
    prefix = env["FINSENT_KAFKA_TOPIC_PREFIX"]
    n = result.published
    wait_until(lambda: count(db, ArticleRow) >= seeded + n, 420, f"{n:,} stored articles", every=1)
    time.sleep(3)  # anything replayed late must not change the counts
    sampler.done.set()
    sampler.join(timeout=10)
    stored_at = sampler.first_at(seeded + n)
    result.stored = count(db, ArticleRow) - seeded
    result.lost = n - result.stored
    result.drain_s = max(0.0, stored_at - published_at)
    result.longest_stall_s = sampler.longest_stall(fault_at, stored_at)
    keys = [key for key, _ in consume_all(bootstrap, topic_names(prefix).raw, expect=n)]
    result.duplicate_records = len(keys) - len(set(keys))
    stored, recounted = stored_buckets(db), recount(db)
    result.miscounted_buckets = len(set(stored.items()) ^ set(recounted.items()))
    group = f"{prefix}finsent-worker"
    wait_until(lambda: group_lag(bootstrap, group, prefix) == 0, 90, "the group's lag back to 0")
    result.lag_after = group_lag(bootstrap, group, prefix)
    result.save()
    assert result.stored == n
    assert count(db, ArticleSentimentRow) == seeded + n
    assert result.duplicate_records == 0
    assert result.miscounted_buckets == 0


def with_alerting(env: dict[str, str], tmp_path: Path, hook: ScriptedReceiver) -> dict[str, str]:
    """``env`` with the volume-spike rule of the alert tests and ``hook`` as receiver."""
    rules, receivers = tmp_path / "rules.yaml", tmp_path / "receivers.yaml"
    rules.write_text(RULES)
    receivers.write_text(f"receivers:\n  - name: hook\n    url: {hook.url}\n")
    return fast_alerting_env(env, rules, receivers)


def oil_burst(bootstrap: str, topic: str) -> None:
    """Forty oil headlines in this minute: the volume spike fires on ``oil-energy``."""
    at = datetime.now(UTC)
    produce(bootstrap, topic, [oil_news(n, at) for n in range(40)])


def check_each_alert_delivered_once(
    result: ChaosResult, db: Engine, env: dict[str, str], hook: ScriptedReceiver
) -> None:
    """Every alert event reached the receiver, none twice (by webhook id)."""
    wait_until(lambda: bool(list_alerts(db)), 120, "an alert firing")
    prefix = env["FINSENT_KAFKA_TOPIC_PREFIX"]
    bootstrap = env["FINSENT_KAFKA_BOOTSTRAP_SERVERS"]
    records = consume_all(bootstrap, topic_names(prefix).alerts, idle=3)
    events = {json.loads(value or b"{}")["id"] for _, value in records}

    def received() -> list[str]:
        return [
            next(v for k, v in r.headers.items() if k.lower() == "webhook-id")
            for r in hook.requests
        ]

    wait_until(lambda: set(received()) >= events, 90, "every alert event at the receiver")
    time.sleep(2)  # a second delivery of one of them would arrive now
    ids = received()
    result.notes["alert_events"] = len(events)
    result.notes["webhooks_received"] = len(ids)
    assert events and set(ids) == events
    assert len(ids) == len(set(ids)), Counter(ids).most_common(3)


def timed(action: Callable[[], None]) -> float:
    began = time.monotonic()
    action()
    return time.monotonic() - began


# --- the scenarios ---------------------------------------------------------------------


@pytest.fixture
def hook() -> Iterator[ScriptedReceiver]:
    with ScriptedReceiver() as receiver:
        yield receiver


def test_the_leader_of_a_busy_partition_killed_with_9_and_restarted(
    cluster: KafkaCluster,
    chaos_env: dict[str, str],
    db: Engine,
    tmp_path: Path,
    hook: ScriptedReceiver,
) -> None:
    bootstrap = cluster.bootstrap_servers
    raw = topic_names(chaos_env["FINSENT_KAFKA_TOPIC_PREFIX"]).raw
    # half an hour of quiet history on the alert's topic (one item a minute)
    now = datetime.now(UTC)
    save_scored_batch(
        db,
        [article(i, "oil-energy", "neutral", now - timedelta(minutes=31 - i)) for i in range(30)],
    )
    worker = start_worker(with_alerting(chaos_env, tmp_path, hook), tmp_path / "worker.log")
    result = ChaosResult("leader of a busy partition kill -9, restarted after 10 s", 3040)
    sampler, stream = StoredSampler(db), Stream(bootstrap, raw, 3000, chunks=15, pause=1.0)
    sampler.start()
    stream.start()
    try:
        wait_until(
            lambda: count(db, ArticleRow) > 330, 120, "the first stored articles"
        )  # 30 seeded
        oil_burst(bootstrap, raw)  # its alert is evaluated and delivered during the fault
        victim = partition_leaders(bootstrap, raw)[0]
        fault_at = time.monotonic()
        cluster.kill(victim)
        time.sleep(10)
        result.notes["restart_s"] = round(timed(lambda: cluster.restart(victim)), 1)
        result.notes["killed_node"] = victim
        stream.finish(300)
        check_each_alert_delivered_once(result, db, chaos_env, hook)
        verify(result, db, chaos_env, sampler, fault_at, stream.last_ack_at, seeded=30)
        wait_until(lambda: under_replicated(bootstrap, raw) == 0, 120, "full ISR again")
        result.notes["isr_full_after_fault_s"] = round(time.monotonic() - fault_at, 1)
        assert worker.alive, worker.log()[-3000:]
    finally:
        sampler.done.set()
        worker.stop()


def test_a_broker_stopped_for_60_seconds(
    cluster: KafkaCluster, chaos_env: dict[str, str], db: Engine, tmp_path: Path
) -> None:
    bootstrap = cluster.bootstrap_servers
    raw = topic_names(chaos_env["FINSENT_KAFKA_TOPIC_PREFIX"]).raw
    worker = start_worker(chaos_env, tmp_path / "worker.log")
    result = ChaosResult("one broker stopped for 60 s", 4000)
    sampler, stream = StoredSampler(db), Stream(bootstrap, raw, 4000, chunks=40, pause=1.5)
    sampler.start()
    stream.start()
    try:
        wait_until(lambda: count(db, ArticleRow) > 300, 120, "the first stored articles")
        victim = partition_leaders(bootstrap, raw)[1]
        fault_at = time.monotonic()
        result.notes["stop_s"] = round(timed(lambda: cluster.stop_node(victim)), 1)
        during = count(db, ArticleRow)
        time.sleep(60 - (time.monotonic() - fault_at))
        result.notes["stored_while_down"] = count(db, ArticleRow) - during
        result.notes["restart_s"] = round(timed(lambda: cluster.restart(victim)), 1)
        result.notes["stopped_node"] = victim
        assert result.notes["stored_while_down"] > 0  # two of three in sync: writes go on
        stream.finish(300)
        verify(result, db, chaos_env, sampler, fault_at, stream.last_ack_at)
        wait_until(lambda: under_replicated(bootstrap, raw) == 0, 120, "full ISR again")
        assert worker.alive, worker.log()[-3000:]
    finally:
        sampler.done.set()
        worker.stop()


def test_one_of_three_workers_killed_with_9_mid_drain(
    cluster: KafkaCluster, chaos_env: dict[str, str], db: Engine, tmp_path: Path
) -> None:
    bootstrap = cluster.bootstrap_servers
    raw = topic_names(chaos_env["FINSENT_KAFKA_TOPIC_PREFIX"]).raw
    stream = Stream(bootstrap, raw, 6000, chunks=3, pause=0)
    stream.start()
    stream.finish(300)  # a backlog the group drains
    sampler = StoredSampler(db)
    sampler.start()
    workers = [
        FinsentProcess(["worker"], chaos_env, tmp_path / f"worker-{i}.log").start()
        for i in range(3)
    ]
    result = ChaosResult("one of three workers kill -9 mid-drain", 6000)
    try:
        for worker in workers:
            worker.wait_for_log("[^Worker]: Ready", timeout=300)
        wait_until(lambda: count(db, ArticleRow) > 1500, 300, "the drain under way")
        fault_at = time.monotonic()
        result.notes["stored_at_kill"] = count(db, ArticleRow)
        workers[1].kill()
        verify(result, db, chaos_env, sampler, fault_at, fault_at)
        assert workers[0].alive and workers[2].alive
    finally:
        sampler.done.set()
        for worker in workers:
            worker.stop()
