"""Backtest: the demo file (real headlines, one planted negative surge) through the
pipeline's own stages and storage, then the default rules evaluated every minute of
its clock. Exactly one alert, on the planted topic, firing then resolved.

The sentiment comes from the data set's own labels (a scorer that reads them), not
from a model: the test is about the rules, and a model's mistakes would be noise here.
The worker's timer is proven separately, end to end (tests/e2e/test_alerts_e2e.py).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from standardwebhooks import Webhook

from alerts.config import load_rules
from alerts.delivery import Deliverer, RetryPolicy
from alerts.evaluator import AlertingConfig, evaluate_once
from entities.registry import load_registry
from finsent.datasets import tfns_csv
from sources.demo import DEMO_ZH_CSV, DemoPlan, build_demo, read_labelled, write_jsonl
from storage.alerts import list_alerts, list_events
from storage.articles import ScoredArticle, save_scored_batch
from streams.publish import prepare, read_rows
from streams.records import ModelRef
from streams.stages import score, to_article
from streams.tagging import load_watchlist
from tests.alerting_support import SECRET, receiver
from tests.webhook_receiver import ScriptedReceiver

LABELS = {"0": "negative", "1": "positive", "2": "neutral"}


@dataclass(frozen=True)
class LabelPrediction:
    label: str
    negative: float
    neutral: float
    positive: float


def labelled(path: Path) -> dict[str, str]:
    with path.open(encoding="utf-8", newline="") as f:
        return {row["text"].strip(): LABELS[row["label"].strip()] for row in csv.DictReader(f)}


def predict(label: str) -> LabelPrediction:
    p = {"negative": 0.04, "neutral": 0.04, "positive": 0.04, label: 0.92}
    return LabelPrediction(label, p["negative"], p["neutral"], p["positive"])


@pytest.fixture(params=["en", "zh"])
def demo_csv(request: pytest.FixtureRequest) -> Path:
    """The English demo's real headlines, and the Chinese demo's (issue 26, item 5)."""
    return tfns_csv("valid") if request.param == "en" else DEMO_ZH_CSV


def replay_by_minute(
    db: Engine, config: AlertingConfig, articles: list[ScoredArticle]
) -> list[dict[str, Any]]:
    """Store the articles a minute of their own time at a time, as a replay does, with
    an evaluation round after each; the events of every round."""
    by_minute: dict[datetime, list[ScoredArticle]] = {}
    for a in articles:
        by_minute.setdefault(a.published_at.replace(second=0, microsecond=0), []).append(a)
    events: list[dict[str, Any]] = []
    for minute in sorted(by_minute):
        save_scored_batch(db, by_minute[minute])
        events += evaluate_once(db, config, datetime.now(UTC)).events
    return events


def assert_the_demo_alert(db: Engine, plan: DemoPlan, events: list[dict[str, Any]]) -> None:
    """The demo's surge fired once, on the data's clock within the surge, and resolved."""
    assert [(e["status"], e["rule"], e["topic"]) for e in events] == [
        ("firing", "negative_surge", plan.surge_topic),
        ("resolved", "negative_surge", plan.surge_topic),
    ]
    fired_at = datetime.fromisoformat(events[0]["starts_at"])
    assert plan.surge_start < fired_at < plan.surge_end  # on the data's clock
    (alert,) = list_alerts(db)
    assert alert.starts_at == fired_at and alert.status == "resolved"


def demo_articles(
    tmp_path: Path, demo_csv: Path, start: datetime
) -> tuple[DemoPlan, list[ScoredArticle]]:
    """The demo file as the worker sees it: parsed, scored (by the data set's labels),
    tagged, ready to store."""
    watchlist = load_watchlist()
    plan = build_demo(read_labelled(demo_csv), watchlist, start=start)
    demo_file = tmp_path / "demo.jsonl"
    write_jsonl(plan.items, demo_file)
    items = prepare(read_rows(demo_file), default_source="demo").items
    assert len(items) == len(plan.items)
    truth = labelled(demo_csv)
    scored = score(
        items,
        [predict(truth[row["title"]]) for row in plan.items],  # prepare keeps the order
        watchlist,
        load_registry(),
        ModelRef(name="tfns-labels", revision="valid"),
    )
    return plan, [to_article(s) for s in scored]


def test_the_demo_surge_fires_once_and_resolves_once_and_nothing_else_does(
    db: Engine, tmp_path: Path, demo_csv: Path
) -> None:
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=9)
    plan, articles = demo_articles(tmp_path, demo_csv, start)
    for n in range(0, len(articles), 256):
        save_scored_batch(db, articles[n : n + 256])

    with ScriptedReceiver() as hook:
        config = AlertingConfig(
            ruleset=load_rules(),  # the shipped defaults
            receivers=(receiver("ops", hook.url),),
            settle=timedelta(seconds=30),
        )
        events = []
        now = start + timedelta(minutes=1, seconds=40)
        end = start + timedelta(hours=8)
        while now < end:  # every minute of the demo's clock, and two hours beyond
            outcome = evaluate_once(db, config, now)
            assert outcome.ran
            events += outcome.events
            now += timedelta(minutes=1)

        assert [(e["status"], e["rule"], e["topic"]) for e in events] == [
            ("firing", "negative_surge", plan.surge_topic),
            ("resolved", "negative_surge", plan.surge_topic),
        ]
        firing, resolved = events
        fired_at = datetime.fromisoformat(firing["starts_at"])
        resolved_at = datetime.fromisoformat(resolved["ends_at"])
        assert plan.surge_start < fired_at < plan.surge_end
        assert plan.surge_end < resolved_at < plan.surge_end + timedelta(hours=1)
        assert firing["alert_id"] == resolved["alert_id"] and firing["id"] != resolved["id"]
        # the numbers behind it, and the headlines that drove it, with links
        assert firing["value"] > 3 * firing["baseline"] and firing["score"] >= 4.0
        assert firing["counts"]["window"]["negative"] >= 10
        surge_titles = {
            i["title"] for i in plan.items if plan.surge_start <= _at(i) <= plan.surge_end
        }
        assert len(firing["headlines"]) == 5
        for h in firing["headlines"]:
            assert h["label"] == "negative" and h["title"] in surge_titles
            assert h["url"].startswith("https://demo.finsent.invalid/story/")

        (alert,) = list_alerts(db)
        assert (alert.status, alert.topic, alert.id) == (
            "resolved",
            plan.surge_topic,
            firing["alert_id"],
        )
        assert [e["id"] for e in list_events(db)] == [resolved["id"], firing["id"]]

        # both events reach the receiver, signed, each with its own webhook id, in order:
        # a pass sends the firing one; the resolved one waits for it, then goes
        async def deliver() -> int:
            return await Deliverer(db, config, RetryPolicy()).deliver_due()

        import asyncio

        assert [asyncio.run(deliver()) for _ in range(3)] == [1, 1, 0]
        got = {r.headers["webhook-id"]: r for r in hook.requests}
        assert list(got) == [firing["id"], resolved["id"]]
        for event_id, r in got.items():
            assert Webhook(SECRET).verify(r.body, r.headers)["data"]["id"] == event_id


def _at(item: dict[str, str]) -> datetime:
    return datetime.fromisoformat(item["published_at"])


def test_replayed_in_time_order_on_the_data_clock_the_same_alert_comes_out(
    db: Engine, tmp_path: Path, demo_csv: Path
) -> None:
    """What `finsent replay --keep-time` of the demo does with FINSENT_ALERTS_CLOCK=data:
    the news arrives in time order, minute by minute of its own clock (hours in the
    past), and the rules follow the data's clock, not the wall clock."""
    start = datetime(2026, 1, 5, 6, 0, tzinfo=UTC)
    plan, articles = demo_articles(tmp_path, demo_csv, start)
    config = AlertingConfig(ruleset=load_rules(), clock="data")
    events = replay_by_minute(db, config, articles)
    assert_the_demo_alert(db, plan, events)
