"""The evaluation round against the database: one transaction, one evaluator at a time.

``evaluate_once`` is what the worker's timer runs (in a thread) and what
``finsent alerts evaluate`` runs: take the evaluator lock, read the states and the
closed buckets, run the pure round, store the transitions (alert row, event, one outbox
row per receiver) and the new states, all or nothing.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Connection, Engine

from alerts.clock import EventTimes, data_clock_points, went_back
from alerts.config import BUCKET_S, Receiver, RuleSet
from alerts.evaluation import closed_until, evaluate_round
from alerts.events import Headline, build_event
from alerts.lifecycle import AlertState, Transition
from alerts.rules import Rule
from storage.alerts import (
    NewAlert,
    StoredState,
    count_late,
    enqueue,
    evaluated_until,
    evaluation_lock,
    newest_event_time,
    observed_since,
    read_buckets,
    read_states,
    set_evaluated_until,
    source_event_times,
    store_transition,
    window_articles,
    write_states,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AlertingConfig:
    """Everything the evaluator and the deliverer need, as plain values."""

    ruleset: RuleSet
    receivers: tuple[Receiver, ...] = ()
    #: The allowed lateness: a bucket is evaluated once the clock is this far past its
    #: end; an item stored later than that is counted as late (``Outcome.late``).
    settle: timedelta = timedelta(seconds=30)
    headlines: int = 5
    dashboard_url: str | None = None
    retry_horizon: timedelta = timedelta(hours=24)
    resend: timedelta = timedelta(minutes=1)
    holder: str = "finsent"
    #: ``wall``: rules run on the wall clock (live news). ``data``: on the data's own
    #: event time, a watermark over the sources (``alerts.clock``; replays of
    #: history, backtests, the demo).
    clock: Literal["wall", "data"] = "wall"
    #: Data clock: a source that stored nothing for this long stops holding it back.
    idle: timedelta = timedelta(seconds=60)

    def receiver(self, name: str) -> Receiver | None:
        return next((r for r in self.receivers if r.name == name), None)


@dataclass(frozen=True, slots=True)
class Outcome:
    ran: bool
    as_of: datetime
    events: list[dict[str, Any]] = field(default_factory=list)
    states: int = 0
    #: items stored since the last round whose bucket had been evaluated already
    late: int = 0


def _to_state(s: StoredState) -> AlertState:
    return AlertState(
        fingerprint=s.fingerprint,
        rule=s.rule,
        topic=s.topic,
        state=s.state,  # type: ignore[arg-type]  # checked by the table's constraint
        since=s.since,
        pending_since=s.pending_since,
        alert_id=s.alert_id,
        starts_at=s.starts_at,
        cooldown_until=s.cooldown_until,
    )


def _to_stored(s: AlertState, refreshed_at: datetime | None) -> StoredState:
    return StoredState(
        fingerprint=s.fingerprint,
        rule=s.rule,
        topic=s.topic,
        state=s.state,
        since=s.since,
        pending_since=s.pending_since,
        alert_id=s.alert_id,
        starts_at=s.starts_at,
        cooldown_until=s.cooldown_until,
        refreshed_at=refreshed_at,
    )


def refresh_id(alert_id: str, at: datetime) -> str:
    """Id of a periodic re-send of a firing alert to Alertmanager's API."""
    return "rfs_" + hashlib.sha256(f"{alert_id}|{at.isoformat()}".encode()).hexdigest()[:28]


def evaluate_once(engine: Engine, config: AlertingConfig, now: datetime) -> Outcome:
    """One round at wall time ``now``; ``ran`` is False when another evaluator holds the
    lock (it is doing this round). On the wall clock it evaluates the buckets that ended
    ``settle`` before ``now``; on the data clock every bucket edge the data's watermark
    passed since the last round (``alerts.clock``). It also counts the items
    that came after their bucket was evaluated. The outbox is timed on the wall clock
    either way."""
    with engine.begin() as conn:
        if not evaluation_lock(conn, config.holder, now):
            return Outcome(False, closed_until(now, config.settle))
        previous = evaluated_until(conn)
        since = observed_since(conn, BUCKET_S)
        if config.clock == "data":
            times = EventTimes(
                source_event_times(conn, config.idle), newest_event_time(conn), since
            )
            if went_back(times, previous):
                previous = None
            span = config.ruleset.longest_span
            points = [(t, t) for t in data_clock_points(times, previous, config.settle, span)]
        else:
            points = [(now, closed_until(now, config.settle))]
        late = count_late(conn, previous)
        if not points:  # no bucket closed yet
            return Outcome(True, previous or now, late=late)
        stored = {s.fingerprint: s for s in read_states(conn)}
        states = {fp: _to_state(s) for fp, s in stored.items()}
        events: list[dict[str, Any]] = []
        fired: set[str] = set()
        changed: set[str] = set()
        for at, as_of in points:
            start = as_of - config.ruleset.longest_span - timedelta(seconds=BUCKET_S)
            result = evaluate_round(
                config.ruleset,
                states,
                read_buckets(conn, start, as_of, BUCKET_S, config.ruleset.entity_keys),
                now=at,
                as_of=as_of,
                observed_since=since,
            )
            events += [_store(conn, config, t, rule, now) for t, rule in result.transitions]
            fired |= {t.fingerprint for t, _ in result.transitions if t.status == "firing"}
            changed |= {s.fingerprint for s in result.changed}
            states = result.states
        set_evaluated_until(conn, as_of)
        refreshed = _refresh(conn, config, states, stored, fired, now)
        sent = fired | refreshed
        rows = []
        for fp in changed | refreshed:
            previous = stored[fp].refreshed_at if fp in stored else None
            rows.append(_to_stored(states[fp], now if fp in sent else previous))
        write_states(conn, rows, now)
    for event in events:
        log.warning("alert %s: %s", event["status"], event["summary"])
    if late:
        log.info("%d items came after the rules had evaluated their bucket", late)
    return Outcome(True, as_of, events, len(changed), late)


def _store(
    conn: Connection, config: AlertingConfig, t: Transition, rule: Rule, now: datetime
) -> dict[str, Any]:
    obs = t.observation
    articles = window_articles(conn, t.topic, obs.window_start, obs.window_end, config.headlines)
    headlines = [
        Headline(
            title=a.title,
            url=a.url,
            source=a.source,
            published_at=a.published_at,
            label=a.label,
            p_negative=a.p_negative,
            polarity=a.polarity,
            confidence=max(a.p_negative, a.p_neutral, a.p_positive),
        )
        for a in articles
    ]
    event = build_event(t, rule, headlines, config.dashboard_url)
    receivers = [r.name for r in config.receivers if t.status == "firing" or r.send_resolved]
    store_transition(
        conn,
        NewAlert(
            alert_id=t.alert_id,
            event_id=t.event_id,
            status=t.status,
            fingerprint=t.fingerprint,
            rule=t.rule,
            topic=t.topic,
            severity=rule.severity,
            starts_at=t.starts_at,
            ends_at=t.ends_at,
            value=obs.value,
            baseline=obs.baseline,
            threshold=obs.threshold,
            payload=event,
        ),
        receivers,
        now,
        now + config.retry_horizon,
    )
    return event


def _refresh(
    conn: Connection,
    config: AlertingConfig,
    states: dict[str, AlertState],
    stored: dict[str, StoredState],
    fired: set[str],
    now: datetime,
) -> set[str]:
    """Re-send firing alerts to Alertmanager API receivers every ``resend``."""
    am = [r.name for r in config.receivers if r.format == "alertmanager-api"]
    if not am:
        return set()
    out = set()
    for fp, state in states.items():
        if state.state != "firing" or fp in fired or state.alert_id is None:
            continue
        last = stored[fp].refreshed_at if fp in stored else None
        if last is not None and now - last < config.resend:
            continue
        enqueue(
            conn,
            refresh_id(state.alert_id, now),
            {"alert_id": state.alert_id, "refresh": True},
            am,
            now,
            now + config.resend * 4,
        )
        out.add(fp)
    return out
