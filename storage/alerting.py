"""Reads and writes of the alert evaluator and the webhook outbox. Plain data in and out.

- The evaluator takes ``evaluation_lock`` first in its transaction: a
  transaction-scoped advisory lock (a second evaluator skips the round).
- Deliveries are claimed with ``FOR UPDATE SKIP LOCKED`` and leased by
  moving ``next_attempt_at`` past the attempt's timeout, so several deliverers never
  send the same row at once and a deliverer that dies mid-attempt only delays it.
"""

from __future__ import annotations

import zlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, Table, and_, func, select, text, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import aliased

from storage.models import (
    Alert,
    AlertEvaluator,
    AlertEvent,
    AlertStateRow,
    Article,
    ArticleSentiment,
    ArticleTopic,
    TopicBucket,
    WebhookAttempt,
    WebhookDelivery,
    WebhookReceiver,
)
from storage.types import SeriesPoint

#: The advisory-lock key of the alert evaluator (any constant 64-bit number).
EVALUATOR_LOCK_KEY = zlib.crc32(b"finsent.alert-evaluator")


@dataclass(frozen=True, slots=True)
class StoredState:
    fingerprint: str
    rule: str
    topic: str
    state: str
    since: datetime | None = None
    pending_since: datetime | None = None
    alert_id: str | None = None
    starts_at: datetime | None = None
    cooldown_until: datetime | None = None
    refreshed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class WindowArticle:
    id: str
    title: str
    url: str | None
    source: str
    published_at: datetime
    label: str
    p_negative: float
    p_neutral: float
    p_positive: float
    polarity: float


@dataclass(frozen=True, slots=True)
class NewAlert:
    """A transition to store: the alert row, its event and the receivers to notify."""

    alert_id: str
    event_id: str
    status: str
    fingerprint: str
    rule: str
    topic: str
    severity: str
    starts_at: datetime
    ends_at: datetime | None
    value: float | None
    baseline: float | None
    threshold: float | None
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class DeliveryJob:
    """A claimed outbox row."""

    id: int
    event_id: str
    receiver: str
    payload: dict[str, Any]
    attempts: int
    created_at: datetime
    give_up_at: datetime | None


@dataclass(frozen=True, slots=True)
class AttemptResult:
    """What one attempt did, and what to do next."""

    outcome: str  # delivered | retry | failed | disabled
    started_at: datetime
    duration_ms: float
    status_code: int | None
    error: str | None
    next_attempt_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    id: int
    event_id: str
    receiver: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_status: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


def _table(model: type[Any]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


def _insert(conn: Connection, model: type[Any]) -> Any:
    return postgresql.insert(_table(model))


# --- the evaluator -------------------------------------------------------------------


def evaluation_lock(conn: Connection, holder: str, now: datetime) -> bool:
    """Become this round's only evaluator, for the rest of the transaction on ``conn``."""
    got = conn.execute(
        text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": EVALUATOR_LOCK_KEY}
    ).scalar()
    if not got:
        return False
    stmt = _insert(conn, AlertEvaluator).values(id=1, holder=holder, last_run_at=now, as_of=None)
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["id"], set_={"holder": holder, "last_run_at": now}
        )
    )
    return True


def set_evaluated_until(conn: Connection, as_of: datetime) -> None:
    """Record the end of the last closed bucket this round evaluated."""
    conn.execute(update(AlertEvaluator).where(AlertEvaluator.id == 1).values(as_of=as_of))


def restart_data_clock(engine: Engine) -> None:
    """Forget how far the rules evaluated: the next data-clock round starts over from the
    data (a new replay of history, whose times may fall before the last one's end)."""
    with engine.begin() as conn:
        conn.execute(update(AlertEvaluator).where(AlertEvaluator.id == 1).values(as_of=None))


def evaluated_until(conn: Connection) -> datetime | None:
    """The end of the last closed bucket a round evaluated (None before the first)."""
    value: datetime | None = conn.execute(
        select(AlertEvaluator.as_of).where(AlertEvaluator.id == 1)
    ).scalar()
    return value


def source_event_times(conn: Connection, idle: timedelta) -> dict[str, datetime]:
    """The newest ``published_at`` of every source that stored an article within the
    last ``idle`` of the database's clock (``stored_at`` is the database's time too)."""
    a = Article
    rows = conn.execute(
        select(a.source, func.max(a.published_at))
        .where(a.stored_at >= func.now() - idle)
        .group_by(a.source)
    )
    return {source: newest for source, newest in rows}


def newest_event_time(conn: Connection) -> datetime | None:
    """The newest ``published_at`` of all articles."""
    value: datetime | None = conn.execute(select(func.max(Article.published_at))).scalar()
    return value


def count_late(conn: Connection, evaluated: datetime | None) -> int:
    """First reports stored since the last count whose bucket ended by ``evaluated`` (the
    rules had evaluated it before they came), added to the evaluator's running total;
    returns how many. Call after ``evaluation_lock``. ``None``: nothing evaluated yet,
    nothing is late.

    Times are the database's (``stored_at`` is a writer transaction's start): a batch
    whose transaction began before the previous count and committed after it is missed.
    """
    e, a = AlertEvaluator, Article
    checked, mark = conn.execute(select(e.late_checked_at, func.now()).where(e.id == 1)).one()
    late = 0
    if evaluated is not None and checked is not None:
        late = conn.execute(
            select(func.count())
            .select_from(a)
            .where(
                a.stored_at > checked,
                a.stored_at <= mark,
                a.published_at < evaluated,
                a.duplicate_of.is_(None),
            )
        ).scalar_one()
    conn.execute(
        update(e).where(e.id == 1).values(late_checked_at=mark, late_items=e.late_items + late)
    )
    return int(late)


@dataclass(frozen=True, slots=True)
class EvaluatorStatus:
    holder: str
    last_run_at: datetime
    as_of: datetime | None
    late_items: int


def evaluator_status(engine: Engine) -> EvaluatorStatus | None:
    """Who evaluated the rules last, when, up to which bucket, and how many items came
    after their bucket had been evaluated (None before the first round)."""
    e = AlertEvaluator
    with engine.connect() as conn:
        row = conn.execute(select(e.holder, e.last_run_at, e.as_of, e.late_items)).first()
    return EvaluatorStatus(row[0], row[1], row[2], int(row[3])) if row else None


def read_states(conn: Connection) -> list[StoredState]:
    s = AlertStateRow
    rows = conn.execute(
        select(
            s.fingerprint,
            s.rule,
            s.topic,
            s.state,
            s.since,
            s.pending_since,
            s.alert_id,
            s.starts_at,
            s.cooldown_until,
            s.refreshed_at,
        )
    )
    return [StoredState(**row._mapping) for row in rows]


def write_states(conn: Connection, states: Iterable[StoredState], now: datetime) -> None:
    rows = [
        {
            "fingerprint": st.fingerprint,
            "rule": st.rule,
            "topic": st.topic,
            "state": st.state,
            "since": st.since,
            "pending_since": st.pending_since,
            "alert_id": st.alert_id,
            "starts_at": st.starts_at,
            "cooldown_until": st.cooldown_until,
            "refreshed_at": st.refreshed_at,
            "updated_at": now,
        }
        for st in sorted(states, key=lambda st: st.fingerprint)
    ]
    if not rows:
        return
    stmt = _insert(conn, AlertStateRow)
    columns = [k for k in rows[0] if k != "fingerprint"]
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["fingerprint"], set_={c: getattr(stmt.excluded, c) for c in columns}
        ),
        rows,
    )


def observed_since(conn: Connection, width_s: int = 60) -> datetime | None:
    """The oldest bucket of any topic: when observation began."""
    value: datetime | None = conn.execute(
        select(func.min(TopicBucket.bucket_start)).where(TopicBucket.width_s == width_s)
    ).scalar()
    return value


def read_buckets(
    conn: Connection, start: datetime, end: datetime, width_s: int = 60
) -> dict[str, list[SeriesPoint]]:
    """Every topic's stored buckets starting in [start, end), sparse, by topic, in time order."""
    b = TopicBucket
    rows = conn.execute(
        select(b.topic, b.bucket_start, b.n_negative, b.n_neutral, b.n_positive, b.polarity_sum)
        .where(b.width_s == width_s, b.bucket_start >= start, b.bucket_start < end)
        .order_by(b.topic, b.bucket_start)
    )
    out: dict[str, list[SeriesPoint]] = defaultdict(list)
    for row in rows:
        out[row.topic].append(
            SeriesPoint(
                row.topic,
                row.bucket_start,
                row.n_negative,
                row.n_neutral,
                row.n_positive,
                row.polarity_sum,
            )
        )
    return dict(out)


def window_articles(
    conn: Connection, topic: str, start: datetime, end: datetime, limit: int = 500
) -> list[WindowArticle]:
    """Articles (first reports only) on ``topic`` published in [start, end), most
    negative first."""
    a, s, t = Article, ArticleSentiment, ArticleTopic
    rows = conn.execute(
        select(
            a.id,
            a.title,
            a.url,
            a.source,
            a.published_at,
            s.label,
            s.p_negative,
            s.p_neutral,
            s.p_positive,
            s.polarity,
        )
        .join(t, and_(t.article_id == a.id, t.topic == topic))
        .join(s, s.article_id == a.id)
        .where(t.published_at >= start, t.published_at < end, a.duplicate_of.is_(None))
        .order_by(s.polarity, s.p_negative.desc(), a.id)
        .limit(limit)
    )
    return [WindowArticle(**row._mapping) for row in rows]


def store_transition(
    conn: Connection, alert: NewAlert, receivers: Sequence[str], now: datetime, give_up_at: datetime
) -> None:
    """Write the alert row, its event and one outbox row per receiver (idempotent)."""
    if alert.status == "firing":
        conn.execute(
            _insert(conn, Alert)
            .values(
                id=alert.alert_id,
                fingerprint=alert.fingerprint,
                rule=alert.rule,
                topic=alert.topic,
                severity=alert.severity,
                status="firing",
                starts_at=alert.starts_at,
                ends_at=None,
                updated_at=now,
                value=alert.value,
                baseline=alert.baseline,
                threshold=alert.threshold,
                details={"firing": alert.payload},
            )
            .on_conflict_do_nothing(index_elements=["id"])
        )
    else:
        details = conn.execute(select(Alert.details).where(Alert.id == alert.alert_id)).scalar()
        conn.execute(
            update(Alert)
            .where(Alert.id == alert.alert_id)
            .values(
                status="resolved",
                ends_at=alert.ends_at,
                updated_at=now,
                details={**(details or {}), "resolved": alert.payload},
            )
        )
    conn.execute(
        _insert(conn, AlertEvent)
        .values(
            id=alert.event_id,
            alert_id=alert.alert_id,
            fingerprint=alert.fingerprint,
            status=alert.status,
            created_at=now,
            payload=alert.payload,
            published_at=None,
        )
        .on_conflict_do_nothing(index_elements=["id"])
    )
    enqueue(conn, alert.event_id, {"alert_id": alert.alert_id}, receivers, now, give_up_at)


def enqueue(
    conn: Connection,
    event_id: str,
    payload: dict[str, Any],
    receivers: Sequence[str],
    now: datetime,
    give_up_at: datetime,
) -> None:
    """One pending outbox row per receiver (``disabled`` for a disabled receiver)."""
    if not receivers:
        return
    disabled = set(
        conn.execute(
            select(WebhookReceiver.name).where(
                WebhookReceiver.name.in_(receivers), WebhookReceiver.disabled_at.is_not(None)
            )
        ).scalars()
    )
    rows = [
        {
            "event_id": event_id,
            "receiver": name,
            "payload": payload,
            "status": "disabled" if name in disabled else "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
            "give_up_at": give_up_at,
        }
        for name in sorted(receivers)
    ]
    conn.execute(
        _insert(conn, WebhookDelivery).on_conflict_do_nothing(
            index_elements=["event_id", "receiver"]
        ),
        rows,
    )


def unpublished_events(engine: Engine, limit: int = 500) -> list[tuple[str, dict[str, Any]]]:
    """Events not yet sent to the alerts topic, oldest first."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(AlertEvent.id, AlertEvent.payload)
            .where(AlertEvent.published_at.is_(None))
            .order_by(AlertEvent.created_at, AlertEvent.id)
            .limit(limit)
        )
        return [(row[0], dict(row[1])) for row in rows]


def mark_published(engine: Engine, ids: Sequence[str], now: datetime) -> None:
    if not ids:
        return
    with engine.begin() as conn:
        conn.execute(update(AlertEvent).where(AlertEvent.id.in_(ids)).values(published_at=now))


def get_event(engine: Engine, event_id: str) -> dict[str, Any] | None:
    with engine.connect() as conn:
        payload = conn.execute(select(AlertEvent.payload).where(AlertEvent.id == event_id)).scalar()
    return dict(payload) if payload is not None else None


def latest_event(engine: Engine, alert_id: str) -> dict[str, Any] | None:
    """The alert's latest event (resolved if it has resolved): its current truth."""
    with engine.connect() as conn:
        payload = conn.execute(
            select(AlertEvent.payload)
            .where(AlertEvent.alert_id == alert_id)
            .order_by((AlertEvent.status == "resolved").desc(), AlertEvent.created_at.desc())
            .limit(1)
        ).scalar()
    return dict(payload) if payload is not None else None


def list_events(engine: Engine, limit: int = 50) -> list[dict[str, Any]]:
    """The latest events, newest first."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(AlertEvent.payload)
            .order_by(AlertEvent.created_at.desc(), AlertEvent.id)
            .limit(limit)
        )
        return [dict(row[0]) for row in rows]


# --- the outbox ----------------------------------------------------------------------


def claim_due(
    engine: Engine,
    receivers: Sequence[str],
    now: datetime,
    lease_until: datetime,
    limit: int,
) -> list[DeliveryJob]:
    """Claim up to ``limit`` due pending rows of the given receivers, leased until
    ``lease_until`` (another deliverer skips them meanwhile).

    The events of one alert reach a receiver in the order they were queued: a row waits
    while an earlier row of the same alert for the same receiver is still pending (being
    sent, or retried), so a ``resolved`` never overtakes its ``firing``."""
    if not receivers or limit <= 0:
        return []
    d = WebhookDelivery
    due = (
        select(d.id)
        .where(
            d.status == "pending",
            d.next_attempt_at <= now,
            d.receiver.in_(receivers),
            ~_waits_for_earlier(),
        )
        .order_by(d.next_attempt_at, d.id)
        .limit(limit)
    )
    with engine.begin() as conn:
        ids = list(conn.execute(due.with_for_update(skip_locked=True)).scalars())
        return _lease(conn, ids, lease_until)


def _waits_for_earlier() -> Any:
    """True for a row of ``WebhookDelivery`` while an earlier row of the same alert for
    the same receiver is still pending (the per-alert order)."""
    d = WebhookDelivery
    earlier = aliased(WebhookDelivery)
    return (
        select(earlier.id)
        .where(
            earlier.receiver == d.receiver,
            earlier.status == "pending",
            earlier.id < d.id,
            earlier.payload["alert_id"].as_string() == d.payload["alert_id"].as_string(),
        )
        .exists()
    )


def _lease(conn: Connection, ids: list[int], lease_until: datetime) -> list[DeliveryJob]:
    if not ids:
        return []
    d = WebhookDelivery
    conn.execute(update(d).where(d.id.in_(ids)).values(next_attempt_at=lease_until))
    rows = conn.execute(
        select(d.id, d.event_id, d.receiver, d.payload, d.attempts, d.created_at, d.give_up_at)
        .where(d.id.in_(ids))
        .order_by(d.id)
    )
    return [
        DeliveryJob(row[0], row[1], row[2], dict(row[3] or {}), row[4], row[5], row[6])
        for row in rows
    ]


def claim_probe(
    engine: Engine, receiver: str, lease_until: datetime, quiet_since: datetime
) -> DeliveryJob | None:
    """Claim one not-yet-due row of ``receiver`` ahead of its back-off, as a probe of
    whether the receiver answers again: the earliest queued one that ``claim_due``'s
    per-alert order allows, leased until ``lease_until``.

    None when the receiver is disabled, when an attempt on one of its pending rows
    started after ``quiet_since`` (that was a probe already), or when no row qualifies.
    Rows due before ``lease_until`` are never probed: they may be leased (being sent by
    a deliverer) and are due soon anyway."""
    d = WebhookDelivery
    w = WebhookAttempt
    tried = (
        select(w.id)
        .join(d, d.id == w.delivery_id)
        .where(d.receiver == receiver, d.status == "pending", w.started_at > quiet_since)
        .exists()
    )
    disabled = (
        select(WebhookReceiver.name)
        .where(WebhookReceiver.name == receiver, WebhookReceiver.disabled_at.is_not(None))
        .exists()
    )
    row = (
        select(d.id)
        .where(
            d.receiver == receiver,
            d.status == "pending",
            d.next_attempt_at > lease_until,
            ~_waits_for_earlier(),
        )
        .order_by(d.id)
        .limit(1)
    )
    with engine.begin() as conn:
        if conn.execute(select(tried | disabled)).scalar():
            return None
        ids = list(conn.execute(row.with_for_update(skip_locked=True)).scalars())
        jobs = _lease(conn, ids, lease_until)
    return jobs[0] if jobs else None


def hurry_pending(engine: Engine, receiver: str, now: datetime, leased_until: datetime) -> int:
    """``receiver`` answered: its pending rows are due ``now`` rather than at their
    back-off times (their per-alert order still holds). Rows due before
    ``leased_until`` keep their time: they may be leased (being sent), and are due soon
    anyway. Returns how many were moved."""
    d = WebhookDelivery
    with engine.begin() as conn:
        result = conn.execute(
            update(d)
            .where(d.receiver == receiver, d.status == "pending", d.next_attempt_at > leased_until)
            .values(next_attempt_at=now)
        )
        return int(result.rowcount)


def record_attempt(
    engine: Engine, job: DeliveryJob, result: AttemptResult, worker: str | None = None
) -> None:
    """Record one attempt and move the delivery on; a 410 disables the receiver and
    every delivery still pending for it."""
    d = WebhookDelivery
    status = {"delivered": "delivered", "retry": "pending", "failed": "failed"}.get(
        result.outcome, "disabled"
    )
    attempt = job.attempts + 1
    with engine.begin() as conn:
        conn.execute(
            _insert(conn, WebhookAttempt).values(
                delivery_id=job.id,
                attempt=attempt,
                started_at=result.started_at,
                duration_ms=result.duration_ms,
                status_code=result.status_code,
                error=result.error,
                outcome=result.outcome,
                worker=worker,
            )
        )
        conn.execute(
            update(d)
            .where(d.id == job.id)
            .values(
                status=status,
                attempts=attempt,
                last_status=result.status_code,
                last_error=result.error,
                next_attempt_at=result.next_attempt_at if status == "pending" else None,
                delivered_at=result.started_at if status == "delivered" else None,
            )
        )
        if result.outcome == "disabled":
            _disable(conn, job.receiver, result.started_at, result.error or "410 Gone")


def _disable(conn: Connection, receiver: str, now: datetime, reason: str) -> None:
    stmt = _insert(conn, WebhookReceiver).values(
        name=receiver, disabled_at=now, disabled_reason=reason, updated_at=now
    )
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["name"],
            set_={"disabled_at": now, "disabled_reason": reason, "updated_at": now},
        )
    )
    d = WebhookDelivery
    conn.execute(
        update(d)
        .where(d.receiver == receiver, d.status == "pending")
        .values(status="disabled", next_attempt_at=None, last_error=f"receiver disabled: {reason}")
    )


def set_receiver_enabled(engine: Engine, receiver: str, now: datetime) -> bool:
    """Enable a disabled receiver; True if it was disabled."""
    with engine.begin() as conn:
        result = conn.execute(
            update(WebhookReceiver)
            .where(WebhookReceiver.name == receiver, WebhookReceiver.disabled_at.is_not(None))
            .values(disabled_at=None, disabled_reason=None, updated_at=now)
        )
        return bool(result.rowcount)


def requeue_disabled(engine: Engine, receiver: str, now: datetime, give_up_at: datetime) -> int:
    """Queue again every delivery left ``disabled`` for ``receiver`` (the events it missed
    while disabled), due now with a fresh retry horizon. Returns how many."""
    d = WebhookDelivery
    with engine.begin() as conn:
        result = conn.execute(
            update(d)
            .where(d.receiver == receiver, d.status == "disabled")
            .values(status="pending", next_attempt_at=now, give_up_at=give_up_at)
        )
        return int(result.rowcount)


def disabled_receivers(engine: Engine) -> dict[str, tuple[datetime, str | None]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                WebhookReceiver.name, WebhookReceiver.disabled_at, WebhookReceiver.disabled_reason
            ).where(WebhookReceiver.disabled_at.is_not(None))
        )
        return {row[0]: (row[1], row[2]) for row in rows if row[1] is not None}


def requeue(
    engine: Engine,
    event_id: str,
    payload: dict[str, Any],
    receivers: Sequence[str],
    now: datetime,
    give_up_at: datetime,
) -> int:
    """Send an event again to ``receivers``: reset their rows to pending (same webhook
    id), or create them. Returns how many rows are now pending."""
    d = WebhookDelivery
    with engine.begin() as conn:
        enqueue(conn, event_id, payload, receivers, now, give_up_at)
        result = conn.execute(
            update(d)
            .where(d.event_id == event_id, d.receiver.in_(receivers))
            .values(status="pending", next_attempt_at=now, give_up_at=give_up_at)
        )
        return int(result.rowcount)


def list_deliveries(
    engine: Engine, *, event_id: str | None = None, status: str | None = None, limit: int = 50
) -> list[DeliveryRecord]:
    d = WebhookDelivery
    query = select(
        d.id,
        d.event_id,
        d.receiver,
        d.status,
        d.attempts,
        d.next_attempt_at,
        d.last_status,
        d.last_error,
        d.created_at,
        d.delivered_at,
    )
    if event_id is not None:
        query = query.where(d.event_id == event_id)
    if status is not None:
        query = query.where(d.status == status)
    query = query.order_by(d.created_at.desc(), d.id.desc()).limit(limit)
    with engine.connect() as conn:
        return [DeliveryRecord(**row._mapping) for row in conn.execute(query)]
