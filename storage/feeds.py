"""What the feed scheduler remembers: the ids it published, and each feed's state.

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

from sqlalchemy import Engine, delete, func, literal, select, tuple_, update
from sqlalchemy.exc import InterfaceError, OperationalError

from common.errors import first_line
from storage.buckets import require_aware
from storage.exceptions import DatabaseUnavailable
from storage.models import Article, PublishedItem, SourceHealth
from storage.sqltypes import UTCDateTime
from storage.writes import _insert_many

#: ids per ``IN (...)`` lookup, well under every driver's parameter limit.
_CHUNK = 1000


def _chunks(ids: Collection[str]) -> Iterator[list[str]]:
    """``ids`` once each, sorted, in pieces of ``_CHUNK`` (one ``IN (...)`` each)."""
    wanted = sorted(set(ids))
    for start in range(0, len(wanted), _CHUNK):
        yield wanted[start : start + _CHUNK]


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


@dataclass(frozen=True, slots=True)
class StoredFeedState:
    """What a restarted scheduler needs to poll a feed as if it had never stopped."""

    feed: str
    etag: str | None
    last_modified: str | None
    consecutive_failures: int
    retry_at: datetime | None


def already_published(engine: Engine, ids: Collection[str]) -> set[str]:
    """The subset of ``ids`` that was published before."""
    found: set[str] = set()
    try:
        with engine.connect() as conn:
            for chunk in _chunks(ids):
                found.update(
                    conn.scalars(select(PublishedItem.id).where(PublishedItem.id.in_(chunk)))
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
                _insert_many(
                    conn,
                    PublishedItem,
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
            PublishedItem.id, PublishedItem.record, PublishedItem.attempts, PublishedItem.retry_at
        )
        .where(PublishedItem.state == "pending")
        .where(PublishedItem.retry_at <= require_aware(now, "now"))
        .order_by(PublishedItem.retry_at, PublishedItem.id)
        .limit(limit)
    )
    if after is not None:
        query = query.where(
            tuple_(PublishedItem.retry_at, PublishedItem.id)
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
                    update(PublishedItem)
                    .where(PublishedItem.id.in_(chunk))
                    .where(PublishedItem.state == "pending")
                )
                if only_stored:
                    stored = select(Article.id).where(Article.id.in_(chunk))
                    stmt = stmt.where(PublishedItem.id.in_(stored))
                stmt = stmt.values(state=state, record=None, retry_at=None)
                done.update(conn.scalars(stmt.returning(PublishedItem.id)))
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
                    update(PublishedItem)
                    .where(PublishedItem.id.in_(chunk))
                    .where(PublishedItem.state == "pending")
                    .values(attempts=PublishedItem.attempts + 1, retry_at=at)
                )
    except (OperationalError, InterfaceError) as e:
        raise DatabaseUnavailable(f"cannot update pending items: {first_line(e)}") from e


def published_states(engine: Engine) -> dict[str, int]:
    """How many remembered items are in each state (pending, stored, given_up)."""
    query = select(PublishedItem.state, func.count()).group_by(PublishedItem.state)
    try:
        with engine.connect() as conn:
            return {row[0]: int(row[1]) for row in conn.execute(query)}
    except (OperationalError, InterfaceError) as e:
        raise DatabaseUnavailable(f"cannot count published items: {first_line(e)}") from e


def recent_published(engine: Engine, since: datetime) -> list[PublishedRecord]:
    """Items published at or after ``since`` that have a title, oldest first."""
    query = (
        select(PublishedItem)
        .where(PublishedItem.published_at >= require_aware(since, "since"))
        .where(PublishedItem.title.is_not(None))
        .order_by(PublishedItem.published_at, PublishedItem.id)
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
    stmt = delete(PublishedItem).where(PublishedItem.published_at < require_aware(before, "before"))
    try:
        with engine.begin() as conn:
            return int(conn.execute(stmt).rowcount or 0)
    except (OperationalError, InterfaceError) as e:
        raise DatabaseUnavailable(f"cannot prune published items: {first_line(e)}") from e


def feed_states(engine: Engine) -> dict[str, StoredFeedState]:
    """Every feed's stored state, by feed name."""
    try:
        with engine.connect() as conn:
            return {
                row.feed: StoredFeedState(
                    feed=row.feed,
                    etag=row.etag,
                    last_modified=row.last_modified,
                    consecutive_failures=row.consecutive_failures,
                    retry_at=row.retry_at,
                )
                for row in conn.execute(select(SourceHealth))
            }
    except (OperationalError, InterfaceError) as e:
        raise DatabaseUnavailable(f"cannot read source health: {first_line(e)}") from e
