"""What the scheduler remembers in PostgreSQL: published ids and each feed's state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from sources.service import load_index, restore_states
from storage import record_source_poll, source_health
from storage.feeds import (
    PublishedRecord,
    SourcePoll,
    already_published,
    feed_states,
    forget_published_before,
    recent_published,
    remember_published,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_published_ids_are_remembered_once(db: Engine) -> None:
    remember_published(db, [PublishedRecord("a", "f1", "Oil jumps"), PublishedRecord("b", "f1")])
    remember_published(db, [PublishedRecord("a", "f2", "Oil jumps again")])  # kept as it was
    assert already_published(db, ["a", "b", "c"]) == {"a", "b"}
    assert already_published(db, []) == set()
    many = [f"id{n}" for n in range(2500)]
    remember_published(db, [PublishedRecord(i, "f") for i in many[::2]])
    assert len(already_published(db, many)) == 1250


def test_the_near_duplicate_memory_is_rebuilt_from_the_window(db: Engine) -> None:
    now = datetime.now(UTC)
    remember_published(
        db,
        [
            PublishedRecord(
                "old", "f", "Fed holds rates steady", published_at=now - timedelta(days=3)
            ),
            PublishedRecord(
                "first",
                "f",
                "Oil prices jump as OPEC cuts output",
                published_at=now - timedelta(hours=2),
            ),
            PublishedRecord(
                "copy",
                "g",
                "Oil prices jump as OPEC cuts output - Wire",
                "first",
                published_at=now - timedelta(hours=1),
            ),
            PublishedRecord("untitled", "g", None, published_at=now),
        ],
    )
    assert [r.id for r in recent_published(db, now - timedelta(days=1))] == ["first", "copy"]
    index = load_index(db, threshold=0.6, window_s=86_400, max_titles=1_000)
    assert len(index) == 2
    assert index.check("late", "Oil Prices Jump As OPEC Cuts Output | Other", now) == "first"
    assert index.check("again", "Fed holds rates steady", now) is None  # outside the window
    assert forget_published_before(db, now - timedelta(days=2)) == 1
    assert already_published(db, ["old", "first"]) == {"first"}


def test_validators_are_kept_across_304s_and_failures(db: Engine) -> None:
    record_source_poll(
        db,
        SourcePoll(
            "f",
            T0,
            True,
            http_status=200,
            etag='"v1"',
            last_modified="Mon",
            items_seen=3,
            items_new=3,
        ),
    )
    record_source_poll(db, SourcePoll("f", T0 + timedelta(minutes=5), True, http_status=304))
    retry = T0 + timedelta(minutes=20)
    record_source_poll(
        db,
        SourcePoll(
            "f",
            T0 + timedelta(minutes=10),
            False,
            http_status=500,
            error="HTTP 500",
            retry_at=retry,
        ),
    )
    record_source_poll(
        db,
        SourcePoll(
            "f",
            T0 + timedelta(minutes=11),
            False,
            error="timed out",
            retry_at=retry,
            items_rejected=2,
        ),
    )
    (h,) = source_health(db)
    assert (h.etag, h.last_modified, h.last_status, h.last_error) == (
        '"v1"',
        "Mon",
        None,
        "timed out",
    )
    assert (h.consecutive_failures, h.retry_at, h.items_rejected) == (2, retry, 2)
    assert h.last_success_at == T0 + timedelta(minutes=5)
    states = restore_states(db)
    assert (states["f"].etag, states["f"].failures, states["f"].retry_at) == ('"v1"', 2, retry)
    record_source_poll(
        db, SourcePoll("f", T0 + timedelta(minutes=30), True, http_status=200, etag=None)
    )
    (h,) = source_health(db)
    assert (h.etag, h.consecutive_failures, h.retry_at) == (None, 0, None)
    assert feed_states(db)["f"].etag is None
