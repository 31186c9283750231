"""The writes: one transaction each, idempotent, plain data in and out."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import (
    ARRAY,
    JSON,
    Connection,
    CursorResult,
    Engine,
    String,
    Table,
    Text,
    bindparam,
    cast,
    func,
    select,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import DataError, IntegrityError, InterfaceError, OperationalError

from common.errors import first_line
from storage.buckets import STORED_WIDTHS, bucket_increments
from storage.exceptions import DatabaseUnavailable, RejectedRecord
from storage.models import (
    LABELS,
    Article,
    ArticleSentiment,
    ArticleTopic,
    SourceHealth,
    TopicBucket,
    WorkerCounters,
)
from storage.types import AgentCounts, SavedBatch, ScoredArticle, SourcePoll

log = logging.getLogger(__name__)
T = TypeVar("T")

#: SQLSTATEs after which the whole transaction may simply be run again.
RETRYABLE_SQLSTATES = {"40001", "40P01"}  # serialization failure, deadlock detected


def _table(model: type[Any]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


def check_article(item: ScoredArticle) -> None:
    """Refuse what the schema would refuse, naming the item and the field."""
    if item.label not in LABELS:
        raise RejectedRecord(f"item {item.id!r}: label {item.label!r} is not one of {LABELS}")
    for name in ("p_negative", "p_neutral", "p_positive"):
        p = getattr(item, name)
        if not 0.0 <= p <= 1.0:
            raise RejectedRecord(f"item {item.id!r}: {name}={p!r} is not a probability")
    if not item.id:
        raise RejectedRecord("item with an empty id")
    if not item.title:
        raise RejectedRecord(f"item {item.id!r}: empty title")


def save_scored_batch(
    engine: Engine, items: Sequence[ScoredArticle], *, max_attempts: int = 5
) -> list[str]:
    """Store scored articles in one transaction; return the ids that were new.

    Articles, sentiment and topics are inserted with ``ON CONFLICT DO NOTHING``; bucket
    counters are incremented only for articles that this transaction newly inserted and
    that are not duplicates of an earlier report. Replaying a batch, or two writers with
    overlapping batches, therefore leaves exact counts. Rows are written in key order so
    concurrent writers take locks in the same order; a deadlock or serialization failure
    re-runs the transaction.
    """
    return save_scored_batch_checked(engine, items, max_attempts=max_attempts).new


def save_scored_batch_checked(
    engine: Engine, items: Sequence[ScoredArticle], *, max_attempts: int = 5
) -> SavedBatch:
    """``save_scored_batch``, and which records were not stored because their id already
    belongs to an article with another title (stored before, or earlier in the batch):
    an id collision, which a replay of the same article (same title) is not."""
    unique: dict[str, tuple[int, ScoredArticle]] = {}
    conflicts: list[tuple[int, str]] = []
    for position, item in enumerate(items):
        check_article(item)
        first = unique.setdefault(item.id, (position, item))[1]
        if first.title != item.title:
            conflicts.append((position, _collision(item, first.title)))
    if not unique:
        return SavedBatch([], conflicts)
    ordered = [unique[key][1] for key in sorted(unique)]

    def work(conn: Connection) -> tuple[list[str], dict[str, str]]:
        new = _save(conn, ordered)
        seen = set(new)
        return new, _stored_titles(conn, [i.id for i in ordered if i.id not in seen])

    new, stored = _in_transaction(engine, work, max_attempts)
    for item_id, title in stored.items():
        position, item = unique[item_id]
        if title != item.title:
            conflicts.append((position, _collision(item, title)))
    return SavedBatch(new, sorted(conflicts))


def _collision(item: ScoredArticle, other_title: str) -> str:
    return (
        f"id {item.id!r} already belongs to another article ({other_title[:80]!r}); this one "
        f"({item.title[:80]!r}) is not stored: give each article an id of its own"
    )


def _stored_titles(conn: Connection, ids: list[str]) -> dict[str, str]:
    """The stored title of each of ``ids`` that is stored."""
    if not ids:
        return {}
    rows = conn.execute(select(Article.id, Article.title).where(Article.id.in_(ids)))
    return {row[0]: row[1] for row in rows}


def _in_transaction(engine: Engine, work: Callable[[Connection], T], max_attempts: int) -> T:
    """``work`` in one transaction, re-run after a deadlock or serialization failure;
    the database's refusals and outages become ``RejectedRecord``/``DatabaseUnavailable``."""
    for attempt in range(1, max_attempts + 1):
        try:
            with engine.begin() as conn:
                return work(conn)
        except (IntegrityError, DataError) as e:
            raise RejectedRecord(f"database refused the batch: {first_line(e)}") from e
        except OperationalError as e:
            if _sqlstate(e) in RETRYABLE_SQLSTATES and attempt < max_attempts:
                log.info("saving a batch: %s, retrying (%d)", first_line(e), attempt)
                continue
            raise DatabaseUnavailable(f"cannot save batch: {first_line(e)}") from e
        except InterfaceError as e:
            raise DatabaseUnavailable(f"cannot save batch: {first_line(e)}") from e
    raise AssertionError("unreachable")  # pragma: no cover


def _save(conn: Connection, items: list[ScoredArticle]) -> list[str]:
    result = _insert_many(
        conn,
        Article,
        [_article_row(i) for i in items],
        lambda stmt: stmt.on_conflict_do_nothing(index_elements=["id"]).returning(stmt.table.c.id),
    )
    assert result is not None
    new_ids = set(result.scalars().all())
    if not new_ids:
        return []
    new = [i for i in items if i.id in new_ids]
    _insert_many(
        conn,
        ArticleSentiment,
        [_sentiment_row(i) for i in new],
        lambda stmt: stmt.on_conflict_do_nothing(index_elements=["article_id"]),
    )
    topic_rows = [
        {"article_id": i.id, "topic": t, "published_at": i.published_at}
        for i in new
        for t in sorted(set(i.topics))
    ]
    _insert_many(conn, ArticleTopic, topic_rows, lambda stmt: stmt.on_conflict_do_nothing())
    _increment_buckets(conn, [i for i in new if i.duplicate_of is None])
    return [i.id for i in new]


def _increment_buckets(conn: Connection, items: list[ScoredArticle]) -> None:
    increments = bucket_increments(
        ((i.topics, i.published_at, i.label, i.polarity) for i in items), STORED_WIDTHS
    )
    rows = [
        {
            "topic": topic,
            "width_s": width,
            "bucket_start": start,
            "n_negative": c.n_negative,
            "n_neutral": c.n_neutral,
            "n_positive": c.n_positive,
            "polarity_sum": c.polarity_sum,
        }
        for (topic, width, start), c in sorted(increments.items())
    ]

    def add_on_conflict(stmt: Any) -> Any:
        bucket = stmt.table.c
        return stmt.on_conflict_do_update(
            index_elements=["topic", "width_s", "bucket_start"],
            set_={
                name: bucket[name] + stmt.excluded[name]
                for name in ("n_negative", "n_neutral", "n_positive", "polarity_sum")
            },
        )

    _insert_many(conn, TopicBucket, rows, add_on_conflict)


def _insert_many(
    conn: Connection,
    model: type[Any],
    rows: list[dict[str, Any]],
    finish: Callable[[Any], Any],
) -> CursorResult[Any] | None:
    """Insert ``rows`` (all with the same keys, in lock order) in one round trip.

    One ``INSERT ... SELECT unnest(array), ...`` whose text is the same for every batch
    (so it is prepared once) and whose parameters are one array per column. ``finish``
    adds the ON CONFLICT clause and any RETURNING. No rows, no statement.
    """
    if not rows:
        return None
    table = _table(model)
    columns = list(rows[0])
    source = select(*(func.unnest(_pg_array(table, name)) for name in columns))
    stmt = finish(postgresql.insert(table).from_select(columns, source))
    params = {name: _pg_column(table, name, [row[name] for row in rows]) for name in columns}
    return conn.execute(stmt, params)


def _pg_array(table: Table, name: str) -> Any:
    """``CAST(:name AS <column type>[])``. JSON travels as text (nested lists would
    otherwise be read as a multi-dimensional array)."""
    column_type = table.c[name].type
    if isinstance(column_type, String):
        # VARCHAR(n)[] would silently truncate; unbounded text lets the column refuse.
        column_type = Text()
    bind_type = Text() if isinstance(column_type, JSON) else column_type
    return cast(bindparam(name, type_=ARRAY(bind_type)), ARRAY(column_type))


def _pg_column(table: Table, name: str, values: list[Any]) -> list[Any]:
    if isinstance(table.c[name].type, JSON):
        return [None if v is None else json.dumps(v) for v in values]
    return values


def _article_row(item: ScoredArticle) -> dict[str, Any]:
    return {
        "id": item.id,
        "source": item.source,
        "url": item.url,
        "title": item.title,
        "body": item.body,
        "published_at": item.published_at,
        "fetched_at": item.fetched_at,
        "lang": item.lang,
        "tickers": list(item.tickers),
        "duplicate_of": item.duplicate_of,
    }


def _sentiment_row(item: ScoredArticle) -> dict[str, Any]:
    return {
        "article_id": item.id,
        "label": item.label,
        "p_negative": item.p_negative,
        "p_neutral": item.p_neutral,
        "p_positive": item.p_positive,
        "polarity": item.polarity,
        "model_name": item.model_name,
        "model_revision": item.model_revision,
        "scored_at": item.scored_at,
    }


def record_source_poll(engine: Engine, poll: SourcePoll) -> None:
    """Fold one poll's outcome into the feed's health row."""
    health = _table(SourceHealth).c
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
        _insert_many(
            conn,
            SourceHealth,
            [fresh],
            lambda stmt: stmt.on_conflict_do_nothing(index_elements=["feed"]),
        )
        conn.execute(update(SourceHealth).where(health.feed == poll.feed).values(**changes))


def _sqlstate(error: Exception) -> str | None:
    orig = getattr(error, "orig", None)
    return getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)


def save_worker_counters(
    engine: Engine, worker: str, started_at: datetime, counts: Sequence[AgentCounts]
) -> None:
    """Replace one worker process's counters with its latest totals (one transaction)."""
    now = datetime.now(UTC)
    rows = [
        {
            "worker": worker,
            "agent": c.agent,
            "started_at": started_at,
            "updated_at": now,
            "processed": c.processed,
            "dead_lettered": c.dead_lettered,
            "retried": c.retried,
            "batches": c.batches,
        }
        for c in sorted(counts, key=lambda c: c.agent)
    ]

    def replace(stmt: Any) -> Any:
        return stmt.on_conflict_do_update(
            index_elements=["worker", "agent"],
            set_={
                name: stmt.excluded[name]
                for name in (
                    "started_at",
                    "updated_at",
                    "processed",
                    "dead_lettered",
                    "retried",
                    "batches",
                )
            },
        )

    with engine.begin() as conn:
        _insert_many(conn, WorkerCounters, rows, replace)
