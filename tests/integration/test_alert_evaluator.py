"""The evaluation round against PostgreSQL: one evaluator at a time, repeats harmless."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, delete, text

from storage.alerting import (
    EVALUATOR_LOCK_KEY,
    list_deliveries,
    list_events,
    mark_published,
    unpublished_events,
)
from storage.models import AlertState
from storage.queries import list_alerts
from streams.alerting.evaluator import evaluate_once
from tests.alerting_support import config_for, fast_rules, plant_surge, receiver


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
        conn.execute(delete(AlertState))
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
