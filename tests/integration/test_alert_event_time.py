"""Event time for the alert rules, against PostgreSQL: the data clock's watermark holds
against stray and late items, and items later than the allowed lateness are counted.

The demo test is the fault run's finding: a replay of the demo with one current-time
item from another source mixed in used to move the data clock past the planted surge,
and no alert fired.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, text

from alerts.clock import MAX_CATCH_UP
from alerts.config import load_rules
from alerts.evaluator import AlertingConfig, evaluate_once
from finsent.datasets import tfns_csv
from storage.alerts import evaluator_status, restart_data_clock
from storage.articles import ScoredArticle, save_scored_batch
from tests.alerting_support import article, config_for, fast_rules
from tests.integration.test_alert_backtest import (
    assert_the_demo_alert,
    demo_articles,
    replay_by_minute,
)

MINUTE = timedelta(minutes=1)


def _stray(n: int, topic: str = "oil") -> ScoredArticle:
    """A current-time item from a live source, arriving in the middle of the replay."""
    at = datetime.now(UTC).replace(microsecond=0)
    return replace(article(900 + n, topic, "neutral", at), source="live-wire")


def test_the_demo_surge_fires_with_stray_and_late_items_mixed_in(
    db: Engine, tmp_path: Path
) -> None:
    """The demo replayed minute by minute of its own clock on the data clock, with
    current-time items from another source arriving now and then (the first after half
    an hour of the replay) and one item in 25 held back three minutes (late)."""
    start = datetime(2026, 1, 5, 6, 0, tzinfo=UTC)
    plan, articles = demo_articles(tmp_path, tfns_csv("valid"), start)
    config = AlertingConfig(ruleset=load_rules(), clock="data")
    arrivals: dict[datetime, list[ScoredArticle]] = {}
    held_back = 0
    for n, a in enumerate(articles):
        minute = a.published_at.replace(second=0, microsecond=0)
        if n % 25 == 7:  # stored three minutes after its time
            minute += 3 * MINUTE
            held_back += 1
        arrivals.setdefault(minute, []).append(a)
    events = []
    for i, minute in enumerate(sorted(arrivals)):
        batch = arrivals[minute]
        if i % 60 == 30:
            batch = [*batch, _stray(i)]
        save_scored_batch(db, batch)
        events += evaluate_once(db, config, datetime.now(UTC)).events

    assert_the_demo_alert(db, plan, events)
    # the held-back items whose bucket had been evaluated when they came are counted
    status = evaluator_status(db)
    assert status is not None and 0 < status.late_items <= held_back


def test_the_first_data_clock_round_evaluates_every_closed_bucket(
    db: Engine, tmp_path: Path
) -> None:
    """A backtest: the whole history stored first, then one round at a time. The first
    round starts at the oldest bucket (within the rules' longest span), not at the
    newest, so a surge early in the history fires."""
    config = config_for(fast_rules(tmp_path), (), clock="data")
    t0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    calm = [article(i, "acme", "neutral", t0 + i * 2 * MINUTE) for i in range(30)]
    surge = [
        article(i, "acme", "negative", t0 + 60 * MINUTE + i * timedelta(seconds=20))
        for i in range(10)
    ]
    later = [article(100 + i, "acme", "neutral", t0 + (70 + i) * MINUTE) for i in range(50)]
    save_scored_batch(db, calm + surge + later)
    events = []
    for _ in range(3):
        events += evaluate_once(db, config, datetime.now(UTC)).events
    assert [e["status"] for e in events] == ["firing", "resolved"]
    # five items in the 5-minute window, three of them negative, at 10:01
    assert datetime.fromisoformat(events[0]["starts_at"]) == t0 + 61 * MINUTE


def test_a_stray_item_does_not_move_the_data_clock_but_an_idle_source_stops_holding_it(
    db: Engine, tmp_path: Path
) -> None:
    config = config_for(fast_rules(tmp_path), (), clock="data", idle=timedelta(seconds=60))
    t0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    save_scored_batch(
        db,
        [article(i, "acme", "neutral", t0 + i * MINUTE + timedelta(seconds=5)) for i in range(20)],
    )
    save_scored_batch(db, [_stray(1)])
    outcome = evaluate_once(db, config, datetime.now(UTC))
    assert outcome.as_of == t0 + 19 * MINUTE  # the replay's source holds the clock
    # a minute of wall time later both sources are idle: the newest of all leads
    with db.begin() as conn:
        conn.execute(text("UPDATE articles SET stored_at = stored_at - interval '2 minutes'"))
    outcome = evaluate_once(db, config, datetime.now(UTC))
    assert outcome.as_of == t0 + 19 * MINUTE + MAX_CATCH_UP * MINUTE  # catching up, bounded


def test_on_the_wall_clock_an_item_within_the_lateness_is_seen_and_a_later_one_counted(
    db: Engine, tmp_path: Path
) -> None:
    """FINSENT_ALERTS_SETTLE is the allowed lateness: an item stored after its minute
    ended but within it is in its bucket when the bucket is evaluated; an item whose
    bucket was evaluated before it came is counted as late."""
    config = replace(config_for(fast_rules(tmp_path), ()), settle=timedelta(seconds=30))
    now = datetime.now(UTC)
    edge = (now - timedelta(seconds=30)).replace(second=0, microsecond=0)  # as_of of round 1
    calm = [article(i, "acme", "neutral", edge - 65 * MINUTE + i * 2 * MINUTE) for i in range(30)]
    early = [article(i, "acme", "negative", edge - 3 * MINUTE + i * MINUTE) for i in range(3)]
    save_scored_batch(db, calm + early)
    first = evaluate_once(db, config, now)
    assert first.as_of == edge and first.events == []  # three negatives: too few
    # stored now, published in the minute after `edge`: not evaluated yet, within the
    # lateness; and one published before `edge`: its bucket was evaluated already
    within = [
        article(10 + i, "acme", "negative", edge + timedelta(seconds=5 + 5 * i)) for i in range(4)
    ]
    too_late = [article(20, "acme", "negative", edge - timedelta(seconds=20))]
    save_scored_batch(db, within + too_late)
    second = evaluate_once(db, config, now + MINUTE)
    assert second.as_of == edge + MINUTE
    assert [e["status"] for e in second.events] == ["firing"]
    assert second.events[0]["counts"]["window"]["negative"] == 8  # the late one counts too
    assert second.late == 1
    status = evaluator_status(db)
    assert status is not None and status.late_items == 1


def test_a_second_demo_on_the_same_database_fires_again(db: Engine, tmp_path: Path) -> None:
    """`finsent up --demo` twice on one data directory: the second demo's six hours end
    an hour after the first's, so most of them lie before what the rules evaluated in
    the first; `finsent up --demo` restarts the data clock, and an alert fires again
    (without the restart, the second demo's items are all late and nothing fires)."""
    config = AlertingConfig(ruleset=load_rules(), clock="data")
    first_start = datetime(2026, 1, 5, 6, 0, tzinfo=UTC)
    plan, articles = demo_articles(mkdir(tmp_path / "one"), tfns_csv("valid"), first_start)
    first = replay_by_minute(db, config, articles)
    assert [e["status"] for e in first] == ["firing", "resolved"]
    with db.begin() as conn:  # an hour of wall time later: the first demo's sources idle
        conn.execute(text("UPDATE articles SET stored_at = stored_at - interval '1 hour'"))

    restart_data_clock(db)
    second_start = first_start + timedelta(hours=1)
    plan, articles = demo_articles(mkdir(tmp_path / "two"), tfns_csv("valid"), second_start)
    second = replay_by_minute(db, config, articles)
    # The first demo's surge lies in the second's hours too (both are stored): the
    # rules see a surge there again, as they would in any replay of that history.
    assert [(e["status"], e["topic"]) for e in second][:2] == [
        ("firing", plan.surge_topic),
        ("resolved", plan.surge_topic),
    ]


def mkdir(path: Path) -> Path:
    path.mkdir()
    return path
