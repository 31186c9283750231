"""Feeds: each feed's health and poll state (``source_health``), and what the feed
scheduler remembers it published (``published_items``). Reads, writes and the plain
data they take and return.

``published_items`` is written only after the broker acknowledged the items, so a
restart never publishes twice what was delivered; a crash between the acknowledgement
and this write republishes at most those items, which idempotent storage absorbs.

An acknowledged item is not yet stored: a broker that loses records (the embedded one
keeps them in memory only) loses it. So an item is remembered ``pending``, with its
record, until its id is in ``articles`` (``mark_stored``); one still pending at its
``retry_at`` is sent again (``mark_resent``) or, after the last try, given up.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, delete, func, literal, select, tuple_, update
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session

from core.errors import first_line
from storage.buckets import require_aware
from storage.bulk import insert_many, table_of
from storage.exceptions import DatabaseUnavailable
from storage.models import ArticleRow, PublishedItemRow, SourceHealthRow
from storage.sqltypes import UTCDateTime

#: ids per ``IN (...)`` lookup, well under every driver's parameter limit.
_CHUNK = 1000


def _chunks(ids: Collection[str]) -> Iterator[list[str]]:
    """``ids`` once each, sorted, in pieces of ``_CHUNK`` (one ``IN (...)`` each)."""
    wanted = sorted(set(ids))
    for start in range(0, len(wanted), _CHUNK):
        yield wanted[start : start + _CHUNK]


# --- plain data in and out -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SourcePoll:
    """The outcome of one poll of a feed, as the scheduler reports it."""

    feed: str
    fetched_at: datetime
    ok: bool
    url: str | None = None
    http_status: int | None = None
    error: str | None = None
    items_seen: int = 0
    items_new: int = 0
    items_duplicate: int = 0
    items_rejected: int = 0
    #: The validators of a 200 response (stored then; a 304 keeps the stored ones).
    etag: str | None = None
    last_modified: str | None = None
    #: When a failing feed may be polled again (None: at its next interval).
    retry_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class SourceHealthView:
    feed: str
    url: str | None
    last_fetch_at: datetime | None
    last_success_at: datetime | None
    last_error: str | None
    last_status: int | None
    items_seen: int
    items_new: int
    items_duplicate: int
    consecutive_failures: int
    items_rejected: int = 0
    etag: str | None = None
    last_modified: str | None = None
    retry_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class PublishedRecord:
    """One item the scheduler published (and the broker acknowledged)."""

    id: str
    feed: str
    title: str | None = None
    duplicate_of: str | None = None
    published_at: datetime | None = None  # None: the database's clock
    #: The record as sent: the item stays pending (to be sent again) until stored.
    #: None: nothing to re-send, remembered as stored.
    record: bytes | None = None
    retry_at: datetime | None = None  # when a pending item is checked (and re-sent)


@dataclass(frozen=True, slots=True)
class PendingItem:
    """An item published but not seen stored yet: what is needed to send it again."""

    id: str
    record: bytes
    attempts: int
    retry_at: datetime


# --- source health ---------------------------------------------------------------------


def record_source_poll(engine: Engine, poll: SourcePoll) -> None:
    """Fold one poll's outcome into the feed's health row."""
    health = table_of(SourceHealthRow).c
    changes: dict[str, Any] = {
        "last_fetch_at": poll.fetched_at,
        "last_status": poll.http_status,
        "items_seen": health.items_seen + poll.items_seen,
        "items_new": health.items_new + poll.items_new,
        "items_duplicate": health.items_duplicate + poll.items_duplicate,
        "items_rejected": health.items_rejected + poll.items_rejected,
        "retry_at": poll.retry_at,
    }
    if poll.url is not None:
        changes["url"] = poll.url
    if poll.ok and poll.http_status == 200:
        changes.update(etag=poll.etag, last_modified=poll.last_modified)
    if poll.ok:
        changes.update(last_success_at=poll.fetched_at, last_error=None, consecutive_failures=0)
    else:
        changes.update(
            last_error=poll.error or "unknown error",
            consecutive_failures=health.consecutive_failures + 1,
        )
    with engine.begin() as conn:
        fresh = {
            "feed": poll.feed,
            "url": poll.url,
            "items_seen": 0,
            "items_new": 0,
            "items_duplicate": 0,
            "items_rejected": 0,
            "consecutive_failures": 0,
        }
        insert_many(
            conn,
            SourceHealthRow,
            [fresh],
            lambda stmt: stmt.on_conflict_do_nothing(index_elements=["feed"]),
        )
        conn.execute(update(SourceHealthRow).where(health.feed == poll.feed).values(**changes))


def source_health(engine: Engine) -> list[SourceHealthView]:
    """Every feed's health, by name."""
    with Session(engine) as session:
        return [
            _health_view(h)
            for h in session.scalars(select(SourceHealthRow).order_by(SourceHealthRow.feed))
        ]


def feed_states(engine: Engine) -> dict[str, SourceHealthView]:
    """Every feed's stored state, by feed name: what a restarted scheduler needs to poll
    a feed as if it had never stopped (validators, failures, back-off)."""
    try:
        with engine.connect() as conn:
            return {row.feed: _health_view(row) for row in conn.execute(select(SourceHealthRow))}
    except (OperationalError, InterfaceError) as e:
        raise DatabaseUnavailable(f"cannot read source health: {first_line(e)}") from e


def _health_view(h: Any) -> SourceHealthView:
    """A ``source_health`` row (ORM object or result row) as plain data."""
    return SourceHealthView(
        feed=h.feed,
        url=h.url,
        last_fetch_at=h.last_fetch_at,
        last_success_at=h.last_success_at,
        last_error=h.last_error,
        last_status=h.last_status,
        items_seen=h.items_seen,
        items_new=h.items_new,
        items_duplicate=h.items_duplicate,
        consecutive_failures=h.consecutive_failures,
        items_rejected=h.items_rejected,
        etag=h.etag,
        last_modified=h.last_modified,
        retry_at=h.retry_at,
    )


# --- published items -------------------------------------------------------------------


def already_published(engine: Engine, ids: Collection[str]) -> set[str]:
    """The subset of ``ids`` that was published before."""
    found: set[str] = set()
    try:
        with engine.connect() as conn:
            for chunk in _chunks(ids):
                found.update(
                    conn.scalars(select(PublishedItemRow.id).where(PublishedItemRow.id.in_(chunk)))
                )
    except (OperationalError, InterfaceError) as e:
        raise DatabaseUnavailable(f"cannot read published items: {first_line(e)}") from e
    return found


def remember_published(engine: Engine, records: Sequence[PublishedRecord]) -> None:
    """Remember published items (an id already remembered is left as it is)."""
    unique = {r.id: r for r in records}
    rows = [
        {
            "id": r.id,
            "feed": r.feed,
            "title": r.title,
            "duplicate_of": r.duplicate_of,
            "state": "stored" if r.record is None else "pending",
            "record": r.record,
            "attempts": 1,
            "retry_at": require_aware(r.retry_at, "retry_at") if r.retry_at else None,
        }
        | (
            {"published_at": require_aware(r.published_at, "published_at")}
            if r.published_at
            else {}
        )
        for r in (unique[k] for k in sorted(unique))
    ]
    if not rows:
        return
    try:
        with engine.begin() as conn:
            # One statement per row shape (rows with and without a time).
            for shape in ({"published_at"}, set()):
                same = [row for row in rows if ("published_at" in row) == bool(shape)]
                insert_many(
                    conn,
                    PublishedItemRow,
                    same,
                    lambda stmt: stmt.on_conflict_do_nothing(index_elements=["id"]),
                )
    except (OperationalError, InterfaceError) as e:
        raise DatabaseUnavailable(f"cannot remember published items: {first_line(e)}") from e


def due_pending(
    engine: Engine, now: datetime, limit: int, *, after: tuple[datetime, str] | None = None
) -> list[PendingItem]:
    """Up to ``limit`` pending items whose ``retry_at`` has come, the earliest first;
    ``after``: only those past this (retry_at, id), the last of the previous page."""
    query = (
        select(
            PublishedItemRow.id,
            PublishedItemRow.record,
            PublishedItemRow.attempts,
            PublishedItemRow.retry_at,
        )
        .where(PublishedItemRow.state == "pending")
        .where(PublishedItemRow.retry_at <= require_aware(now, "now"))
        .order_by(PublishedItemRow.retry_at, PublishedItemRow.id)
        .limit(limit)
    )
    if after is not None:
        query = query.where(
            tuple_(PublishedItemRow.retry_at, PublishedItemRow.id)
            > tuple_(literal(require_aware(after[0], "after"), UTCDateTime()), literal(after[1]))
        )
    try:
        with engine.connect() as conn:
            return [
                PendingItem(row.id, row.record or b"", row.attempts, row.retry_at)
                for row in conn.execute(query)
            ]
    except (OperationalError, InterfaceError) as e:
        raise DatabaseUnavailable(f"cannot read pending items: {first_line(e)}") from e


def mark_stored(engine: Engine, ids: Collection[str]) -> set[str]:
    """Mark the pending items of ``ids`` whose id is in ``articles`` stored (their record
    dropped); return those ids."""
    return _settle(engine, ids, "stored", only_stored=True)


def give_up_pending(engine: Engine, ids: Collection[str]) -> set[str]:
    """Mark the pending items of ``ids`` given up (their record dropped); return them."""
    return _settle(engine, ids, "given_up", only_stored=False)


def _settle(engine: Engine, ids: Collection[str], state: str, *, only_stored: bool) -> set[str]:
    done: set[str] = set()
    try:
        with engine.begin() as conn:
            for chunk in _chunks(ids):
                stmt = (
                    update(PublishedItemRow)
                    .where(PublishedItemRow.id.in_(chunk))
                    .where(PublishedItemRow.state == "pending")
                )
                if only_stored:
                    stored = select(ArticleRow.id).where(ArticleRow.id.in_(chunk))
                    stmt = stmt.where(PublishedItemRow.id.in_(stored))
                stmt = stmt.values(state=state, record=None, retry_at=None)
                done.update(conn.scalars(stmt.returning(PublishedItemRow.id)))
    except (OperationalError, InterfaceError) as e:
        raise DatabaseUnavailable(f"cannot update pending items: {first_line(e)}") from e
    return done


def mark_resent(engine: Engine, ids: Collection[str], retry_at: datetime) -> None:
    """Count one more acknowledged send of the pending items ``ids``; check them again at
    ``retry_at``."""
    at = require_aware(retry_at, "retry_at")
    try:
        with engine.begin() as conn:
            for chunk in _chunks(ids):
                conn.execute(
                    update(PublishedItemRow)
                    .where(PublishedItemRow.id.in_(chunk))
                    .where(PublishedItemRow.state == "pending")
                    .values(attempts=PublishedItemRow.attempts + 1, retry_at=at)
                )
    except (OperationalError, InterfaceError) as e:
        raise DatabaseUnavailable(f"cannot update pending items: {first_line(e)}") from e


def published_states(engine: Engine) -> dict[str, int]:
    """How many remembered items are in each state (pending, stored, given_up)."""
    query = select(PublishedItemRow.state, func.count()).group_by(PublishedItemRow.state)
    try:
        with engine.connect() as conn:
            return {row[0]: int(row[1]) for row in conn.execute(query)}
    except (OperationalError, InterfaceError) as e:
        raise DatabaseUnavailable(f"cannot count published items: {first_line(e)}") from e


def recent_published(engine: Engine, since: datetime) -> list[PublishedRecord]:
    """Items published at or after ``since`` that have a title, oldest first."""
    query = (
        select(PublishedItemRow)
        .where(PublishedItemRow.published_at >= require_aware(since, "since"))
        .where(PublishedItemRow.title.is_not(None))
        .order_by(PublishedItemRow.published_at, PublishedItemRow.id)
    )
    try:
        with engine.connect() as conn:
            return [
                PublishedRecord(
                    id=row.id,
                    feed=row.feed,
                    title=row.title,
                    duplicate_of=row.duplicate_of,
                    published_at=row.published_at,
                )
                for row in conn.execute(query)
            ]
    except (OperationalError, InterfaceError) as e:
        raise DatabaseUnavailable(f"cannot read published items: {first_line(e)}") from e


def forget_published_before(engine: Engine, before: datetime) -> int:
    """Forget items published before ``before``; return how many."""
    stmt = delete(PublishedItemRow).where(
        PublishedItemRow.published_at < require_aware(before, "before")
    )
    try:
        with engine.begin() as conn:
            return int(conn.execute(stmt).rowcount or 0)
    except (OperationalError, InterfaceError) as e:
        raise DatabaseUnavailable(f"cannot prune published items: {first_line(e)}") from e
