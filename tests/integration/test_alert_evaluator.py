"""The evaluation round against PostgreSQL: one evaluator at a time, repeats harmless."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, delete, text

from alerts.config import load_rules
from alerts.evaluator import evaluate_once
from storage.alerts import (
    EVALUATOR_LOCK_KEY,
    list_alerts,
    list_deliveries,
    list_events,
    mark_published,
    unpublished_events,
)
from storage.articles import save_scored_batch
from storage.models import AlertStateRow
from tests.alerting_support import article, config_for, fast_rules, plant_surge, receiver


def test_a_round_is_skipped_while_another_evaluator_holds_the_lock(
    db: Engine, tmp_path: Path
) -> None:
    config = config_for(fast_rules(tmp_path), ())
    now = datetime.now(UTC)
    plant_surge(db, now)
    held, release = threading.Event(), threading.Event()

    def other_evaluator() -> None:
        with db.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": EVALUATOR_LOCK_KEY})
            held.set()
            release.wait(10)

    thread = threading.Thread(target=other_evaluator)
    thread.start()
    assert held.wait(10)
    try:
        skipped = evaluate_once(db, config, now)
        assert not skipped.ran and skipped.events == []
        assert list_alerts(db) == []
    finally:
        release.set()
        thread.join()
    ran = evaluate_once(db, config, now)
    assert ran.ran and [e["status"] for e in ran.events] == ["firing"]


def test_evaluating_the_same_history_again_changes_nothing(db: Engine, tmp_path: Path) -> None:
    config = config_for(fast_rules(tmp_path), (receiver("ops", "http://127.0.0.1:9/"),))
    now = datetime.now(UTC)
    plant_surge(db, now)
    first = evaluate_once(db, config, now).events
    assert evaluate_once(db, config, now + timedelta(seconds=30)).events == []  # still firing
    # a crash that lost the states but not the events: the round is redone from scratch
    with db.begin() as conn:
        conn.execute(delete(AlertStateRow))
    again = evaluate_once(db, config, now).events
    assert [e["id"] for e in again] == [e["id"] for e in first]
    assert len(list_alerts(db)) == 1
    assert len(list_events(db)) == 1
    assert len(list_deliveries(db)) == 1


def test_events_wait_for_the_alerts_topic_until_marked_published(
    db: Engine, tmp_path: Path
) -> None:
    config = config_for(fast_rules(tmp_path), ())
    now = datetime.now(UTC)
    plant_surge(db, now)
    (event,) = evaluate_once(db, config, now).events
    assert unpublished_events(db) == [(event["id"], event)]
    mark_published(db, [event["id"]], now)
    assert unpublished_events(db) == []


def test_firing_alerts_are_resent_to_alertmanager_every_resend_interval(
    db: Engine, tmp_path: Path
) -> None:
    config = config_for(
        fast_rules(tmp_path),
        (
            receiver("am", "http://127.0.0.1:9/", "alertmanager-api"),
            receiver("hook", "http://127.0.0.1:9/"),
        ),
        resend=timedelta(seconds=20),
    )
    now = datetime.now(UTC)
    plant_surge(db, now)
    evaluate_once(db, config, now)
    evaluate_once(db, config, now + timedelta(seconds=10))
    assert sorted(d.receiver for d in list_deliveries(db)) == ["am", "hook"]
    evaluate_once(db, config, now + timedelta(seconds=21))
    rows = list_deliveries(db)
    refreshes = [d for d in rows if d.event_id.startswith("rfs_")]
    assert [d.receiver for d in refreshes] == ["am"]  # only Alertmanager's API needs it
    evaluate_once(db, config, now + timedelta(seconds=35))
    assert len(list_deliveries(db)) == 3
    assert list_alerts(db)[0].status == "firing"


SPIKE_RULES = """
topics:
  market: {enabled: false}
rules:
  - {name: volume_spike, kind: volume_spike, severity: warning, window: 1m, baseline: 30m,
     enter: 4.0, exit: 2.0, min_count: 10, min_baseline_coverage: 0, for: 0s, cooldown: 10m}
"""


def test_the_data_clock_catches_up_on_every_bucket_it_passed(db: Engine, tmp_path: Path) -> None:
    """A replay outruns the evaluator: one round finds the data's clock nine minutes on,
    past a one-minute burst that came and went. It still fires and resolves it, at the
    data's own times."""
    path = tmp_path / "rules.yaml"
    path.write_text(SPIKE_RULES)
    config = config_for(load_rules(path), (), clock="data")
    t0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    calm = [article(m, "oil", "neutral", t0 + timedelta(minutes=m, seconds=5)) for m in range(30)]
    save_scored_batch(db, calm)
    wall = datetime.now(UTC)
    assert evaluate_once(db, config, wall).events == []

    burst = [
        article(100 + n, "oil", "neutral", t0 + timedelta(minutes=30, seconds=5 + n))
        for n in range(40)
    ]
    after = [
        article(m, "oil", "neutral", t0 + timedelta(minutes=m, seconds=5)) for m in range(31, 40)
    ]
    save_scored_batch(db, burst + after)
    outcome = evaluate_once(db, config, wall + timedelta(seconds=1))
    assert [e["status"] for e in outcome.events] == ["firing", "resolved"]
    (alert,) = list_alerts(db)
    assert (alert.rule, alert.topic, alert.status) == ("volume_spike", "oil", "resolved")
    assert alert.starts_at == t0 + timedelta(minutes=31)
    assert alert.ends_at == t0 + timedelta(minutes=32)
    assert outcome.as_of == t0 + timedelta(minutes=39)
