"""Alerts, the alert evaluator's state and events, and the webhook outbox: reads and
writes, and the plain data they take and return.

- The evaluator takes ``evaluation_lock`` first in its transaction: a
  transaction-scoped advisory lock (a second evaluator skips the round).
- Deliveries are claimed with ``FOR UPDATE SKIP LOCKED`` and leased by
  moving ``next_attempt_at`` past the attempt's timeout, so several deliverers never
  send the same row at once and a deliverer that dies mid-attempt only delays it.
"""

from __future__ import annotations

import zlib
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, case, func, or_, select, text, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session, aliased

from storage.articles import SeriesPoint, in_series
from storage.buckets import ENTITY_PREFIX, require_aware
from storage.bulk import table_of
from storage.models import (
    AlertEvaluatorRow,
    AlertEventRow,
    AlertRow,
    AlertStateRow,
    ArticleRow,
    ArticleSentimentRow,
    TopicBucketRow,
    WebhookAttemptRow,
    WebhookDeliveryRow,
    WebhookReceiverRow,
)

#: The advisory-lock key of the alert evaluator (any constant 64-bit number).
EVALUATOR_LOCK_KEY = zlib.crc32(b"finsent.alert-evaluator")


# --- plain data in and out -------------------------------------------------------------


#: An alert's place in the newest-first order of ``list_alerts``: (starts_at, id).
AlertKey = tuple[datetime, str]


@dataclass(frozen=True, slots=True)
class AlertView:
    id: str
    fingerprint: str
    rule: str
    topic: str
    severity: str
    status: str
    starts_at: datetime
    ends_at: datetime | None
    updated_at: datetime
    value: float | None
    baseline: float | None
    threshold: float | None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> AlertKey:
        """Where this alert stands in ``list_alerts``' order (a page's ``after``)."""
        return (self.starts_at, self.id)


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
class EvaluatorStatus:
    holder: str
    last_run_at: datetime
    as_of: datetime | None
    late_items: int


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
class DeliveryView:
    """One outbox row (an event for one receiver) as a reader sees it. ``payload`` is
    the payload queued where the read asks for it (``deliveries_since``);
    ``list_deliveries`` leaves it empty."""

    id: int
    event_id: str
    receiver: str
    status: str
    attempts: int
    last_status: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    next_attempt_at: datetime | None
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ReceiverSummary:
    """Delivery state of one webhook receiver, over every event."""

    receiver: str
    pending: int
    delivered: int
    failed: int
    disabled: int
    last_delivered_at: datetime | None
    last_error: str | None


def _insert(conn: Connection, model: type[Any]) -> Any:
    return postgresql.insert(table_of(model))


# --- alerts ----------------------------------------------------------------------------


def list_alerts(
    engine: Engine,
    *,
    status: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    topic: str | None = None,
    after: AlertKey | None = None,
    limit: int = 100,
) -> list[AlertView]:
    """Alerts newest first; ``since``/``until`` bound when they started.

    The order is (starts_at descending, id ascending): total and stable, so ``after`` (the
    ``key`` of the last alert of a page) continues exactly where that page ended.
    """
    query = select(AlertRow)
    if status is not None:
        query = query.where(AlertRow.status == status)
    if topic is not None:
        query = query.where(AlertRow.topic == topic)
    if since is not None:
        query = query.where(AlertRow.starts_at >= require_aware(since, "since"))
    if until is not None:
        query = query.where(AlertRow.starts_at < require_aware(until, "until"))
    if after is not None:
        # the first condition alone bounds the index scan; the second drops the ties seen
        last_start, last_id = require_aware(after[0], "after"), after[1]
        query = query.where(
            AlertRow.starts_at <= last_start,
            or_(AlertRow.starts_at < last_start, AlertRow.id > last_id),
        )
    query = query.order_by(AlertRow.starts_at.desc(), AlertRow.id).limit(limit)
    with Session(engine) as session:
        return [alert_view(a) for a in session.scalars(query)]


def alert_view(a: AlertRow) -> AlertView:
    return AlertView(
        id=a.id,
        fingerprint=a.fingerprint,
        rule=a.rule,
        topic=a.topic,
        severity=a.severity,
        status=a.status,
        starts_at=a.starts_at,
        ends_at=a.ends_at,
        updated_at=a.updated_at,
        value=a.value,
        baseline=a.baseline,
        threshold=a.threshold,
        details=dict(a.details or {}),
    )


def alerts_overlapping(
    engine: Engine, topics: Sequence[str], start: datetime, end: datetime
) -> list[AlertView]:
    """Alerts on ``topics`` that were firing at some time in [start, end)."""
    start, end = require_aware(start, "start"), require_aware(end, "end")
    if not topics:
        return []
    query = (
        select(AlertRow)
        .where(
            AlertRow.topic.in_(list(topics)),
            AlertRow.starts_at < end,
            or_(AlertRow.ends_at.is_(None), AlertRow.ends_at >= start),
        )
        .order_by(AlertRow.starts_at, AlertRow.id)
    )
    with Session(engine) as session:
        return [alert_view(a) for a in session.scalars(query)]


# --- the evaluator ---------------------------------------------------------------------


def evaluation_lock(conn: Connection, holder: str, now: datetime) -> bool:
    """Become this round's only evaluator, for the rest of the transaction on ``conn``."""
    got = conn.execute(
        text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": EVALUATOR_LOCK_KEY}
    ).scalar()
    if not got:
        return False
    stmt = _insert(conn, AlertEvaluatorRow).values(id=1, holder=holder, last_run_at=now, as_of=None)
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["id"], set_={"holder": holder, "last_run_at": now}
        )
    )
    return True


def set_evaluated_until(conn: Connection, as_of: datetime) -> None:
    """Record the end of the last closed bucket this round evaluated."""
    conn.execute(update(AlertEvaluatorRow).where(AlertEvaluatorRow.id == 1).values(as_of=as_of))


def restart_data_clock(engine: Engine) -> None:
    """Forget how far the rules evaluated: the next data-clock round starts over from the
    data (a new replay of history, whose times may fall before the last one's end)."""
    with engine.begin() as conn:
        conn.execute(update(AlertEvaluatorRow).where(AlertEvaluatorRow.id == 1).values(as_of=None))


def evaluated_until(conn: Connection) -> datetime | None:
    """The end of the last closed bucket a round evaluated (None before the first)."""
    value: datetime | None = conn.execute(
        select(AlertEvaluatorRow.as_of).where(AlertEvaluatorRow.id == 1)
    ).scalar()
    return value


def source_event_times(conn: Connection, idle: timedelta) -> dict[str, datetime]:
    """The newest ``published_at`` of every source that stored an article within the
    last ``idle`` of the database's clock (``stored_at`` is the database's time too)."""
    a = ArticleRow
    rows = conn.execute(
        select(a.source, func.max(a.published_at))
        .where(a.stored_at >= func.now() - idle)
        .group_by(a.source)
    )
    return {source: newest for source, newest in rows}


def newest_event_time(conn: Connection) -> datetime | None:
    """The newest ``published_at`` of all articles."""
    value: datetime | None = conn.execute(select(func.max(ArticleRow.published_at))).scalar()
    return value


def count_late(conn: Connection, evaluated: datetime | None) -> int:
    """First reports stored since the last count whose bucket ended by ``evaluated`` (the
    rules had evaluated it before they came), added to the evaluator's running total;
    returns how many. Call after ``evaluation_lock``. ``None``: nothing evaluated yet,
    nothing is late.

    Times are the database's (``stored_at`` is a writer transaction's start): a batch
    whose transaction began before the previous count and committed after it is missed.
    """
    e, a = AlertEvaluatorRow, ArticleRow
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


def evaluator_status(engine: Engine) -> EvaluatorStatus | None:
    """Who evaluated the rules last, when, up to which bucket, and how many items came
    after their bucket had been evaluated (None before the first round)."""
    e = AlertEvaluatorRow
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
        select(func.min(TopicBucketRow.bucket_start)).where(TopicBucketRow.width_s == width_s)
    ).scalar()
    return value


def read_buckets(
    conn: Connection,
    start: datetime,
    end: datetime,
    width_s: int = 60,
    entity_keys: Collection[str] | None = None,
) -> dict[str, list[SeriesPoint]]:
    """Every topic's stored buckets starting in [start, end), sparse, by topic, in time
    order; of the companies' series (``entity:<id>``) only ``entity_keys`` (None: all):
    a round reads the companies its rules name, not the hundreds a feed mentions."""
    b = TopicBucketRow
    query = select(
        b.topic, b.bucket_start, b.n_negative, b.n_neutral, b.n_positive, b.polarity_sum
    ).where(b.width_s == width_s, b.bucket_start >= start, b.bucket_start < end)
    if entity_keys is not None:
        query = query.where(
            or_(~b.topic.startswith(ENTITY_PREFIX, autoescape=True), b.topic.in_(entity_keys))
        )
    rows = conn.execute(query.order_by(b.topic, b.bucket_start))
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
    """Articles (first reports only) on ``topic`` (or a company: ``entity:<id>``)
    published in [start, end), most negative first."""
    a, s = ArticleRow, ArticleSentimentRow
    query = select(
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
    ).join(s, s.article_id == a.id)
    rows = conn.execute(
        in_series(query, topic, start, end)
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
            _insert(conn, AlertRow)
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
        details = conn.execute(
            select(AlertRow.details).where(AlertRow.id == alert.alert_id)
        ).scalar()
        conn.execute(
            update(AlertRow)
            .where(AlertRow.id == alert.alert_id)
            .values(
                status="resolved",
                ends_at=alert.ends_at,
                updated_at=now,
                details={**(details or {}), "resolved": alert.payload},
            )
        )
    conn.execute(
        _insert(conn, AlertEventRow)
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
            select(WebhookReceiverRow.name).where(
                WebhookReceiverRow.name.in_(receivers), WebhookReceiverRow.disabled_at.is_not(None)
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
        _insert(conn, WebhookDeliveryRow).on_conflict_do_nothing(
            index_elements=["event_id", "receiver"]
        ),
        rows,
    )


def unpublished_events(engine: Engine, limit: int = 500) -> list[tuple[str, dict[str, Any]]]:
    """Events not yet sent to the alerts topic, oldest first."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(AlertEventRow.id, AlertEventRow.payload)
            .where(AlertEventRow.published_at.is_(None))
            .order_by(AlertEventRow.created_at, AlertEventRow.id)
            .limit(limit)
        )
        return [(row[0], dict(row[1])) for row in rows]


def mark_published(engine: Engine, ids: Sequence[str], now: datetime) -> None:
    if not ids:
        return
    with engine.begin() as conn:
        conn.execute(
            update(AlertEventRow).where(AlertEventRow.id.in_(ids)).values(published_at=now)
        )


def get_event(engine: Engine, event_id: str) -> dict[str, Any] | None:
    with engine.connect() as conn:
        payload = conn.execute(
            select(AlertEventRow.payload).where(AlertEventRow.id == event_id)
        ).scalar()
    return dict(payload) if payload is not None else None


def latest_event(engine: Engine, alert_id: str) -> dict[str, Any] | None:
    """The alert's latest event (resolved if it has resolved): its current truth."""
    with engine.connect() as conn:
        payload = conn.execute(
            select(AlertEventRow.payload)
            .where(AlertEventRow.alert_id == alert_id)
            .order_by((AlertEventRow.status == "resolved").desc(), AlertEventRow.created_at.desc())
            .limit(1)
        ).scalar()
    return dict(payload) if payload is not None else None


def list_events(engine: Engine, limit: int = 50) -> list[dict[str, Any]]:
    """The latest events, newest first."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(AlertEventRow.payload)
            .order_by(AlertEventRow.created_at.desc(), AlertEventRow.id)
            .limit(limit)
        )
        return [dict(row[0]) for row in rows]


# --- the outbox ------------------------------------------------------------------------


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
    d = WebhookDeliveryRow
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
    d = WebhookDeliveryRow
    earlier = aliased(WebhookDeliveryRow)
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
    d = WebhookDeliveryRow
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
    d = WebhookDeliveryRow
    w = WebhookAttemptRow
    tried = (
        select(w.id)
        .join(d, d.id == w.delivery_id)
        .where(d.receiver == receiver, d.status == "pending", w.started_at > quiet_since)
        .exists()
    )
    disabled = (
        select(WebhookReceiverRow.name)
        .where(WebhookReceiverRow.name == receiver, WebhookReceiverRow.disabled_at.is_not(None))
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
    d = WebhookDeliveryRow
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
    d = WebhookDeliveryRow
    status = {"delivered": "delivered", "retry": "pending", "failed": "failed"}.get(
        result.outcome, "disabled"
    )
    attempt = job.attempts + 1
    with engine.begin() as conn:
        conn.execute(
            _insert(conn, WebhookAttemptRow).values(
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
    stmt = _insert(conn, WebhookReceiverRow).values(
        name=receiver, disabled_at=now, disabled_reason=reason, updated_at=now
    )
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["name"],
            set_={"disabled_at": now, "disabled_reason": reason, "updated_at": now},
        )
    )
    d = WebhookDeliveryRow
    conn.execute(
        update(d)
        .where(d.receiver == receiver, d.status == "pending")
        .values(status="disabled", next_attempt_at=None, last_error=f"receiver disabled: {reason}")
    )


def set_receiver_enabled(engine: Engine, receiver: str, now: datetime) -> bool:
    """Enable a disabled receiver; True if it was disabled."""
    with engine.begin() as conn:
        result = conn.execute(
            update(WebhookReceiverRow)
            .where(WebhookReceiverRow.name == receiver, WebhookReceiverRow.disabled_at.is_not(None))
            .values(disabled_at=None, disabled_reason=None, updated_at=now)
        )
        return bool(result.rowcount)


def requeue_disabled(engine: Engine, receiver: str, now: datetime, give_up_at: datetime) -> int:
    """Queue again every delivery left ``disabled`` for ``receiver`` (the events it missed
    while disabled), due now with a fresh retry horizon. Returns how many."""
    d = WebhookDeliveryRow
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
                WebhookReceiverRow.name,
                WebhookReceiverRow.disabled_at,
                WebhookReceiverRow.disabled_reason,
            ).where(WebhookReceiverRow.disabled_at.is_not(None))
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
    d = WebhookDeliveryRow
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
) -> list[DeliveryView]:
    d = WebhookDeliveryRow
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
        return [DeliveryView(**row._mapping) for row in conn.execute(query)]


def deliveries_since(engine: Engine, since: datetime, limit: int = 5000) -> list[DeliveryView]:
    """Webhook deliveries created at or after ``since``, newest first."""
    query = (
        select(WebhookDeliveryRow)
        .where(WebhookDeliveryRow.created_at >= require_aware(since, "since"))
        .order_by(WebhookDeliveryRow.created_at.desc(), WebhookDeliveryRow.id.desc())
        .limit(limit)
    )
    with Session(engine) as session:
        return [
            DeliveryView(
                id=d.id,
                event_id=d.event_id,
                receiver=d.receiver,
                status=d.status,
                attempts=d.attempts,
                last_status=d.last_status,
                last_error=d.last_error,
                created_at=d.created_at,
                delivered_at=d.delivered_at,
                next_attempt_at=d.next_attempt_at,
                payload=dict(d.payload or {}),
            )
            for d in session.scalars(query)
        ]


def receiver_summaries(engine: Engine) -> list[ReceiverSummary]:
    """Per receiver: deliveries by status, the last success and the latest error."""
    d = WebhookDeliveryRow
    counts = select(
        d.receiver,
        *(func.sum(case((d.status == s, 1), else_=0)) for s in ("pending", "delivered")),
        *(func.sum(case((d.status == s, 1), else_=0)) for s in ("failed", "disabled")),
        func.max(d.delivered_at),
    ).group_by(d.receiver)
    latest_error = (
        select(d.receiver, d.last_error)
        .where(d.last_error.is_not(None))
        .order_by(d.receiver, d.created_at.desc(), d.id.desc())
    )
    with engine.connect() as conn:
        rows = conn.execute(counts.order_by(d.receiver)).all()
        errors: dict[str, str] = {}
        for receiver, error in conn.execute(latest_error):
            if error is not None:
                errors.setdefault(receiver, error)
    return [
        ReceiverSummary(
            receiver=r[0],
            pending=int(r[1] or 0),
            delivered=int(r[2] or 0),
            failed=int(r[3] or 0),
            disabled=int(r[4] or 0),
            last_delivered_at=r[5],
            last_error=errors.get(r[0]),
        )
        for r in rows
    ]


def match_deliveries(
    alerts: Sequence[AlertView], deliveries: Sequence[DeliveryView]
) -> dict[str, list[DeliveryView]]:
    """The deliveries of each alert's events: an event id that is the alert id or one
    the alert's details name (``event_id``, ``event_ids``), or a payload that names
    the alert (``alert_id``, or its fingerprint and start time)."""
    out: dict[str, list[DeliveryView]] = {a.id: [] for a in alerts}
    by_event: dict[str, str] = {}
    by_fingerprint: dict[tuple[str, str], str] = {}
    for a in alerts:
        by_event[a.id] = a.id
        details = a.details or {}
        named = details.get("event_ids") or []
        if isinstance(details.get("event_id"), str):
            named = [*named, details["event_id"]]
        for event_id in named if isinstance(named, list) else []:
            by_event[str(event_id)] = a.id
        by_fingerprint[(a.fingerprint, a.starts_at.isoformat())] = a.id
    for d in deliveries:
        alert_id = by_event.get(d.event_id) or by_event.get(str(d.payload.get("alert_id", "")))
        if alert_id is None:
            key = (str(d.payload.get("fingerprint", "")), _iso(d.payload.get("starts_at")))
            alert_id = by_fingerprint.get(key)
        if alert_id is not None:
            out[alert_id].append(d)
    return out


def _iso(value: Any) -> str:
    if not isinstance(value, str):
        return ""
    try:
        return require_aware(datetime.fromisoformat(value.replace("Z", "+00:00")), "t").isoformat()
    except ValueError:
        return ""
