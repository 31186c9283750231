"""The writes: one transaction each, idempotent, plain data in and out."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Engine, Table, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DataError, IntegrityError, InterfaceError, OperationalError

from storage.buckets import STORED_WIDTHS, bucket_increments
from storage.exceptions import DatabaseUnavailable, RejectedRecord
from storage.models import (
    LABELS,
    Article,
    ArticleSentiment,
    ArticleTopic,
    SourceHealth,
    TopicBucket,
)
from storage.types import ScoredArticle, SourcePoll

log = logging.getLogger(__name__)

#: SQLSTATEs after which the whole transaction may simply be run again.
RETRYABLE_SQLSTATES = {"40001", "40P01"}  # serialization failure, deadlock detected


def _table(model: type[Any]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


def _insert(conn: Connection, model: type[Any]) -> Any:
    """The dialect's INSERT, which has ``on_conflict_do_nothing/do_update``."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(_table(model))
    if conn.dialect.name == "sqlite":
        return sqlite.insert(_table(model))
    raise DatabaseUnavailable(f"unsupported database dialect {conn.dialect.name!r}")


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
    unique: dict[str, ScoredArticle] = {}
    for item in items:
        check_article(item)
        unique.setdefault(item.id, item)
    if not unique:
        return []
    ordered = [unique[key] for key in sorted(unique)]
    for attempt in range(1, max_attempts + 1):
        try:
            with engine.begin() as conn:
                return _save(conn, ordered)
        except (IntegrityError, DataError) as e:
            raise RejectedRecord(f"database refused the batch: {_reason(e)}") from e
        except OperationalError as e:
            if _sqlstate(e) in RETRYABLE_SQLSTATES and attempt < max_attempts:
                log.info("save_scored_batch: %s, retrying (%d)", _reason(e), attempt)
                continue
            raise DatabaseUnavailable(f"cannot save batch: {_reason(e)}") from e
        except InterfaceError as e:
            raise DatabaseUnavailable(f"cannot save batch: {_reason(e)}") from e
    raise AssertionError("unreachable")  # pragma: no cover


def _save(conn: Connection, items: list[ScoredArticle]) -> list[str]:
    stmt = _insert(conn, Article).on_conflict_do_nothing(index_elements=["id"])
    result = conn.execute(stmt.returning(_table(Article).c.id), [_article_row(i) for i in items])
    new_ids = set(result.scalars().all())
    if not new_ids:
        return []
    new = [i for i in items if i.id in new_ids]
    conn.execute(
        _insert(conn, ArticleSentiment).on_conflict_do_nothing(index_elements=["article_id"]),
        [_sentiment_row(i) for i in new],
    )
    topic_rows = [
        {"article_id": i.id, "topic": t, "published_at": i.published_at}
        for i in new
        for t in sorted(set(i.topics))
    ]
    if topic_rows:
        conn.execute(_insert(conn, ArticleTopic).on_conflict_do_nothing(), topic_rows)
    _increment_buckets(conn, [i for i in new if i.duplicate_of is None])
    return [i.id for i in new]


def _increment_buckets(conn: Connection, items: list[ScoredArticle]) -> None:
    increments = bucket_increments(
        ((i.topics, i.published_at, i.label, i.polarity) for i in items), STORED_WIDTHS
    )
    if not increments:
        return
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
    stmt = _insert(conn, TopicBucket)
    bucket = _table(TopicBucket).c
    stmt = stmt.on_conflict_do_update(
        index_elements=["topic", "width_s", "bucket_start"],
        set_={
            "n_negative": bucket.n_negative + stmt.excluded.n_negative,
            "n_neutral": bucket.n_neutral + stmt.excluded.n_neutral,
            "n_positive": bucket.n_positive + stmt.excluded.n_positive,
            "polarity_sum": bucket.polarity_sum + stmt.excluded.polarity_sum,
        },
    )
    conn.execute(stmt, rows)


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
    }
    if poll.url is not None:
        changes["url"] = poll.url
    if poll.ok:
        changes.update(last_success_at=poll.fetched_at, last_error=None, consecutive_failures=0)
    else:
        changes.update(
            last_error=poll.error or "unknown error",
            consecutive_failures=health.consecutive_failures + 1,
        )
    with engine.begin() as conn:
        conn.execute(
            _insert(conn, SourceHealth)
            .values(feed=poll.feed, url=poll.url)
            .on_conflict_do_nothing(index_elements=["feed"])
        )
        conn.execute(update(SourceHealth).where(health.feed == poll.feed).values(**changes))


def _sqlstate(error: Exception) -> str | None:
    orig = getattr(error, "orig", None)
    return getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)


def _reason(error: Exception) -> str:
    orig = getattr(error, "orig", None) or error
    lines = [line.strip() for line in str(orig).splitlines() if line.strip()]
    return lines[0] if lines else type(orig).__name__
