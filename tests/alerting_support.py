"""Making alerts the real way for tests: articles stored with ``save_scored_batch``, then
an evaluation round over their buckets."""

from __future__ import annotations

import base64
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine

from alerts.config import Receiver, RuleSet, load_rules
from alerts.evaluator import AlertingConfig, evaluate_once
from storage.articles import ScoredArticle, save_scored_batch
from testkit import factories

SECRET = "whsec_" + base64.b64encode(b"finsent-test-secret-32-bytes-long").decode()

FAST_RULES = """
rules:
  - name: negative_surge
    kind: negative_surge
    severity: critical
    window: 5m
    baseline: 1h
    enter: 3.0
    exit: 1.5
    min_count: 5
    min_share: 0.3
    min_baseline_count: 5
    min_baseline_coverage: 0
    for: 0s
    cooldown: 10m
"""


def fast_rules(tmp_path: Path) -> RuleSet:
    path = tmp_path / "rules.yaml"
    path.write_text(FAST_RULES)
    return load_rules(path)


def article(
    n: int, topic: str, label: str, at: datetime, title: str | None = None
) -> ScoredArticle:
    """``factories.article`` on ``topic`` at ``at`` (fetched and scored then too), 0.9 sure
    of ``label``; the id is unique per topic, label, ``n`` and time."""
    p = {"negative": 0.05, "neutral": 0.05, "positive": 0.05, label: 0.9}
    item = factories.article(
        n,
        label=label,
        published_at=at,
        topics=(topic,),
        source="test-wire",
        title=title or f"{topic} {label} headline {n}",
        probs=(p["negative"], p["neutral"], p["positive"]),
    )
    return replace(
        item,
        id=f"{topic}-{label}-{n}-{at.timestamp():.0f}",
        url=f"https://news.example/{topic}/{n}",
        fetched_at=at,
        scored_at=at,
    )


def plant_surge(engine: Engine, now: datetime, topic: str = "acme") -> None:
    """An hour of calm neutral news on ``topic``, then 10 negative items in the last
    five closed minutes."""
    edge = now.replace(second=0, microsecond=0) - timedelta(minutes=1)
    calm = [
        article(i, topic, "neutral", edge - timedelta(minutes=65) + timedelta(minutes=2 * i))
        for i in range(30)
    ]
    surge = [
        article(i, topic, "negative", edge - timedelta(minutes=4, seconds=-20 * i))
        for i in range(10)
    ]
    save_scored_batch(engine, calm + surge)


def config_for(rules: RuleSet, receivers: tuple[Receiver, ...], **kwargs: object) -> AlertingConfig:
    return AlertingConfig(
        ruleset=rules,
        receivers=receivers,
        settle=timedelta(seconds=0),
        dashboard_url="http://dashboard.example:8501",
        **kwargs,  # type: ignore[arg-type]
    )


def fire(engine: Engine, config: AlertingConfig, now: datetime | None = None) -> dict[str, object]:
    """Plant a surge and evaluate: the firing event (its outbox rows are queued)."""
    now = now or datetime.now(UTC)
    plant_surge(engine, now)
    outcome = evaluate_once(engine, config, now)
    firing = [e for e in outcome.events if e["status"] == "firing"]
    assert len(firing) == 1, outcome.events
    return firing[0]


def receiver(name: str, url: str, fmt: str = "generic", timeout: float = 5.0) -> Receiver:
    return Receiver(name=name, url=url, format=fmt, secret=SECRET, timeout=timeout)  # type: ignore[arg-type]


def fast_alerting_env(env: dict[str, str], rules: Path, receivers: Path) -> dict[str, str]:
    """``env`` for a worker that evaluates ``rules`` every 2 s and delivers to
    ``receivers`` with short waits (signed with ``SECRET``)."""
    return {
        **env,
        "FINSENT_ALERTS_RULES": str(rules),
        "FINSENT_ALERTS_RECEIVERS": str(receivers),
        "FINSENT_ALERTS_SECRET": SECRET,
        "FINSENT_ALERTS_INTERVAL": "2",
        "FINSENT_ALERTS_SETTLE": "3",
        "FINSENT_ALERTS_RETRY_BASE": "1",
        "FINSENT_ALERTS_DELIVERY_POLL": "0.3",
    }
