"""What the feed scheduler remembers: the ids it published, and each feed's state.

``published_items`` is written only after the broker acknowledged the items, so a
restart never publishes twice what was delivered; a crash between the acknowledgement
and this write republishes at most those items, which idempotent storage absorbs.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, delete, select
from sqlalchemy.exc import InterfaceError, OperationalError

from storage.buckets import require_aware
from storage.db import first_line
from storage.exceptions import DatabaseUnavailable
from storage.models import PublishedItem, SourceHealth
from storage.writes import _insert_many

#: ids per ``IN (...)`` lookup, well under every driver's parameter limit.
_CHUNK = 1000


@dataclass(frozen=True, slots=True)
class PublishedRecord:
    """One item the scheduler published (and the broker acknowledged)."""

    id: str
    feed: str
    title: str | None = None
    duplicate_of: str | None = None
    published_at: datetime | None = None  # None: the database's clock


@dataclass(frozen=True, slots=True)
class FeedState:
    """What a restarted scheduler needs to poll a feed as if it had never stopped."""

    feed: str
    etag: str | None
    last_modified: str | None
    consecutive_failures: int
    retry_at: datetime | None


def already_published(engine: Engine, ids: Collection[str]) -> set[str]:
    """The subset of ``ids`` that was published before."""
    wanted = sorted(set(ids))
    found: set[str] = set()
    try:
        with engine.connect() as conn:
            for start in range(0, len(wanted), _CHUNK):
                chunk = wanted[start : start + _CHUNK]
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
        {"id": r.id, "feed": r.feed, "title": r.title, "duplicate_of": r.duplicate_of}
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


def feed_states(engine: Engine) -> dict[str, FeedState]:
    """Every feed's stored state, by feed name."""
    try:
        with engine.connect() as conn:
            return {
                row.feed: FeedState(
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
