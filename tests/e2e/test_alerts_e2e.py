"""Alerting in the real worker: its timer evaluates the rules over what the pipeline
stored, the events go to the alerts topic and the alerts table, and webhooks reach a
real `finsent webhook-echo` process, signed, while a slow receiver holds up nothing.

The model of these tests is a random head, so the rule here is a volume spike (it does
not depend on what the model says); the rules' statistics are tested elsewhere.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from storage.alerts import list_alerts
from storage.articles import save_scored_batch
from storage.models import ArticleRow
from streams.broker_process import free_port
from streams.topics import topic_names
from testkit.processes import FinsentProcess, consume_all, wait_until
from tests.alerting_support import SECRET, article, fast_alerting_env
from tests.e2e.test_pipeline import produce
from tests.e2e.test_worker_metrics import scrape
from tests.webhook_receiver import Reply, ScriptedReceiver

RULES = """
topics:
  market: {enabled: false}
rules:
  - name: volume_spike
    kind: volume_spike
    severity: warning
    window: 1m
    baseline: 30m
    enter: 4.0
    exit: 2.0
    min_count: 10
    min_baseline_coverage: 0
    for: 0s
    cooldown: 10m
"""


def oil_news(n: int, at: datetime) -> tuple[bytes, bytes]:
    key = f"oil-e2e-{n}-{at.timestamp():.0f}"
    value = {
        "schema": 1,
        "id": key,
        "source": "wire",
        "url": f"https://news.example/oil/{key}",
        "title": f"Oil prices move as OPEC meets, report {n}",
        "published_at": at.isoformat(),
    }
    return key.encode(), json.dumps(value).encode()


# Minutes of wall-clock alerting each: on the production broker only.
pytestmark = pytest.mark.broker_kinds("kafka")


@pytest.fixture
def slow_hook() -> Iterator[ScriptedReceiver]:
    with ScriptedReceiver(default=Reply(200, delay=8.0)) as hook:
        yield hook


@pytest.fixture
def echo(tmp_path: Path, cli_env: dict[str, str]) -> Iterator[tuple[FinsentProcess, int]]:
    port = free_port()
    proc = FinsentProcess(
        ["webhook-echo", "--secret", SECRET, "--port", str(port)], cli_env, tmp_path / "echo.log"
    ).start()
    proc.wait_for_log("webhook-echo listening", timeout=30)
    yield proc, port
    proc.stop()


def test_the_worker_fires_and_resolves_and_delivers(
    worker_env: dict[str, str],
    db: Engine,
    tmp_path: Path,
    echo: tuple[FinsentProcess, int],
    slow_hook: ScriptedReceiver,
) -> None:
    echo_proc, echo_port = echo
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    receivers = tmp_path / "receivers.yaml"
    receivers.write_text(
        f"""
receivers:
  - name: echo
    url: http://127.0.0.1:{echo_port}/
    format: generic
  - name: slow
    url: {slow_hook.url}
    timeout: 2
"""
    )
    env = {
        **fast_alerting_env(worker_env, rules, receivers),
        "FINSENT_METRICS_WORKER_PORT": str(metrics_port := free_port()),
    }
    # half an hour of quiet history on the topic (one item a minute)
    now = datetime.now(UTC)
    save_scored_batch(
        db,
        [article(i, "oil-energy", "neutral", now - timedelta(minutes=31 - i)) for i in range(30)],
    )
    worker = FinsentProcess(["worker"], env, tmp_path / "worker.log").start()
    try:
        worker.wait_for_log("[^Worker]: Ready", timeout=180)
        bootstrap = env["FINSENT_KAFKA_BOOTSTRAP_SERVERS"]
        topics = topic_names(env["FINSENT_KAFKA_TOPIC_PREFIX"])
        burst_at = datetime.now(UTC)
        produce(bootstrap, topics.raw, [oil_news(n, burst_at) for n in range(40)])

        def stored() -> int:
            with db.connect() as conn:
                return int(conn.execute(select(func.count()).select_from(ArticleRow)).scalar_one())

        wait_until(lambda: stored() >= 70, 60, "the burst stored")
        wait_until(lambda: bool(list_alerts(db)), 120, "the alert firing")
        (alert,) = list_alerts(db)
        assert (alert.rule, alert.topic, alert.status) == ("volume_spike", "oil-energy", "firing")

        # a slow receiver is being retried meanwhile: the pipeline keeps its pace
        t0 = time.monotonic()
        later = datetime.now(UTC) - timedelta(hours=2)  # old news: no second spike
        produce(bootstrap, topics.raw, [oil_news(100 + n, later) for n in range(50)])
        wait_until(lambda: stored() >= 120, 60, "the next batch stored")
        assert time.monotonic() - t0 < 30

        wait_until(lambda: list_alerts(db)[0].status == "resolved", 180, "the alert resolved")
        records = consume_all(bootstrap, topics.alerts, expect=2, timeout=60)
        events = [json.loads(v or b"{}") for _, v in records]
        assert [(e["status"], e["topic"]) for e in events] == [
            ("firing", "oil-energy"),
            ("resolved", "oil-energy"),
        ]
        # keyed by fingerprint: one partition, so firing arrives before resolved
        assert [k.decode() for k, _ in records if k] == [e["fingerprint"] for e in events]

        def echoed() -> list[dict[str, object]]:
            lines = [ln for ln in echo_proc.log().splitlines() if ln.startswith("{")]
            return [json.loads(ln) for ln in lines]

        wait_until(lambda: len(echoed()) >= 2, 60, "both events at webhook-echo")
        got = echoed()
        assert [g["webhook_id"] for g in got] == [e["id"] for e in events]
        assert [g["event"]["data"]["status"] for g in got] == ["firing", "resolved"]  # type: ignore[index]
        # a refused request logs "401 <webhook id>: ..."; the port in its address line may
        # hold the digits 401
        assert not any(ln.startswith("401 ") for ln in echo_proc.log().splitlines())
        delivered = (
            "finsent_webhook_attempts_total",
            (("outcome", "delivered"), ("receiver", "echo")),
        )
        wait_until(lambda: scrape(metrics_port).get(delivered) == 2, 30, "attempts in /metrics")
        # the 50 items of old news came after the rules had evaluated their minutes
        late = ("finsent_alert_late_items_total", ())
        wait_until(lambda: scrape(metrics_port).get(late) == 50, 30, "late items in /metrics")
        assert slow_hook.requests  # tried, timed out, retried: never in the way
        t0 = time.monotonic()
        worker.stop()  # SIGTERM: the timer and the deliverer stop with the agents
        assert time.monotonic() - t0 < 30
        assert "Traceback" not in worker.log()
    finally:
        worker.stop()


def test_a_replay_of_history_on_the_data_clock_raises_its_alert(
    worker_env: dict[str, str], db: Engine, tmp_path: Path
) -> None:
    """`finsent replay --keep-time` of two-hour-old news through the real worker, with
    FINSENT_ALERTS_CLOCK=data: the alert fires and resolves on the data's own clock."""
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    t0 = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=2)
    rows = []
    for minute in range(40):
        at = t0 + timedelta(minutes=minute, seconds=5)
        count = 40 if minute == 30 else 1  # a burst in minute 30
        for n in range(count):
            rows.append(
                {
                    "title": f"Oil prices move as OPEC meets, report {minute}-{n}",
                    "source": "wire",
                    "url": f"https://news.example/oil/{minute}/{n}",
                    "published_at": (at + timedelta(seconds=n)).isoformat(),
                }
            )
    history = tmp_path / "history.jsonl"
    history.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    env = {
        **worker_env,
        "FINSENT_ALERTS_RULES": str(rules),
        "FINSENT_ALERTS_CLOCK": "data",
        "FINSENT_ALERTS_INTERVAL": "1",
    }
    worker = FinsentProcess(["worker"], env, tmp_path / "worker.log").start()
    try:
        worker.wait_for_log("[^Worker]: Ready", timeout=180)
        replay = FinsentProcess(
            ["replay", str(history), "--keep-time", "--speed", "60"], env, tmp_path / "replay.log"
        ).start()
        assert replay.proc is not None and replay.proc.wait(timeout=120) == 0, replay.log()
        wait_until(
            lambda: [a.status for a in list_alerts(db)] == ["resolved"], 60, "fired and resolved"
        )
        (alert,) = list_alerts(db)
        assert (alert.rule, alert.topic) == ("volume_spike", "oil-energy")
        assert alert.starts_at == t0 + timedelta(minutes=31)  # the data's time, not the wall's
        assert alert.ends_at == t0 + timedelta(minutes=32)
    finally:
        worker.stop()
