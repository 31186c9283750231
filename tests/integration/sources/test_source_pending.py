"""Published is not stored: pending items become stored, are re-published, or are given
up (real PostgreSQL, an injected clock, a broker stand-in that records what it is sent)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select

from sources.pending import Republisher, check_every
from sources.service import DatabaseStore
from storage.articles import save_scored_batch
from storage.feeds import (
    PublishedRecord,
    already_published,
    due_pending,
    published_states,
    remember_published,
)
from storage.models import PublishedItemRow
from testkit.factories import article

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class Broker:
    """Acknowledges what it is sent, unless told to be away."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes]] = []
        self.away = False

    def send_records(self, records: list[tuple[str, bytes]]) -> list[str]:
        if self.away:
            return []
        self.sent += records
        return [item_id for item_id, _ in records]


def ids(n: int) -> list[str]:
    return [article(i).id for i in range(n)]


def publish(db: Engine, clock: Clock, n: int, after_s: float = 120) -> list[str]:
    """What a poll does: ``n`` items acknowledged, remembered pending with their record."""
    store = DatabaseStore(db, republish_after_s=after_s, clock=clock)
    store.remember(
        [
            PublishedRecord(i, "wire", f"Headline number {n}", record=f"rec-{i}".encode())
            for i in ids(n)
        ]
    )
    return ids(n)


def states(db: Engine) -> dict[str, str]:
    with db.connect() as conn:
        return dict(conn.execute(select(PublishedItemRow.id, PublishedItemRow.state)).all())


def test_stored_items_settle_and_lost_ones_are_published_again(db: Engine) -> None:
    clock, broker = Clock(), Broker()
    republisher = Republisher(db, broker, after_s=120, max_attempts=3, clock=clock)
    sent = publish(db, clock, 6)
    assert set(already_published(db, sent)) == set(sent)  # pending is published: no poll re-sends
    save_scored_batch(db, [article(i) for i in range(4)])  # the worker stored four of six

    clock.advance(119)
    assert republisher.run_once().stored == 0  # not due yet: nothing looked at
    assert broker.sent == []

    clock.advance(1)
    result = republisher.run_once()
    assert (result.stored, result.republished, result.given_up) == (4, 2, [])
    assert broker.sent == [(i, f"rec-{i}".encode()) for i in sorted(sent[4:])]  # same key, bytes
    assert published_states(db) == {"stored": 4, "pending": 2}
    with db.connect() as conn:
        kept = conn.execute(
            select(PublishedItemRow.id, PublishedItemRow.record, PublishedItemRow.attempts)
        ).all()
    assert {r.id: (r.record, r.attempts) for r in kept if r.id in sent[:4]} == {
        i: (None, 1)
        for i in sent[:4]  # stored: the record is dropped
    }
    assert {r.attempts for r in kept if r.id in sent[4:]} == {2}

    clock.advance(239)  # the wait doubles: 240 s after the re-publication
    assert republisher.run_once().republished == 0
    save_scored_batch(db, [article(4)])  # the re-sent item arrives
    clock.advance(1)
    result = republisher.run_once()
    assert (result.stored, result.republished) == (1, 1)
    assert states(db)[sent[4]] == "stored" and states(db)[sent[5]] == "pending"


def test_an_item_never_stored_is_given_up_after_the_last_try(
    db: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    """The worker dead-letters it (say an id collision): it is never stored."""
    clock, broker = Clock(), Broker()
    republisher = Republisher(db, broker, after_s=10, max_attempts=2, clock=clock)
    (lost,) = publish(db, clock, 1, after_s=10)
    for wait in (10, 20):  # two re-publications, 10 s then 20 s apart
        clock.advance(wait)
        assert republisher.run_once().republished == 1
    clock.advance(40)
    with caplog.at_level(logging.INFO, logger="sources.pending"):
        republisher.run()
    assert [i for i, _ in broker.sent] == [lost, lost]
    assert states(db) == {lost: "given_up"}
    assert "gave up 1 items never stored after 2 re-publications" in caplog.text
    assert lost in caplog.text
    assert republisher.given_up_total == 1
    clock.advance(3600)
    assert republisher.run_once().republished == 0  # never sent again
    with db.connect() as conn:
        assert conn.scalar(select(PublishedItemRow.record)) is None


def test_syndicated_copies_are_stored_articles_and_settle(db: Engine) -> None:
    clock, broker = Clock(), Broker()
    republisher = Republisher(db, broker, after_s=60, max_attempts=3, clock=clock)
    first, copy = ids(2)
    DatabaseStore(db, 60, clock).remember(
        [
            PublishedRecord(first, "a", "Oil jumps", record=b"1"),
            PublishedRecord(copy, "b", "Oil jumps - Wire", first, record=b"2"),
        ]
    )
    save_scored_batch(db, [article(0), article(1, duplicate_of=first)])
    clock.advance(60)
    assert republisher.run_once().stored == 2
    assert broker.sent == []


def test_a_broker_still_away_leaves_items_due(db: Engine, caplog: pytest.LogCaptureFixture) -> None:
    clock, broker = Clock(), Broker()
    republisher = Republisher(db, broker, after_s=30, max_attempts=3, clock=clock, batch=2)
    sent = publish(db, clock, 5, after_s=30)
    broker.away = True
    clock.advance(30)
    with caplog.at_level(logging.WARNING, logger="sources.pending"):
        republisher.run()
    assert "2 items to re-publish were not acknowledged" in caplog.text  # one batch, then stop
    assert published_states(db) == {"pending": 5}
    broker.away = False
    clock.advance(1)
    with caplog.at_level(logging.WARNING, logger="sources.pending"):
        republisher.run()
    assert "re-published 5 items not stored after 30s or more" in caplog.text
    assert sorted(i for i, _ in broker.sent) == sorted(sent)  # three batches of at most 2


def test_the_work_per_round_is_bounded(db: Engine) -> None:
    clock, broker = Clock(), Broker()
    republisher = Republisher(
        db, broker, after_s=30, max_attempts=3, clock=clock, batch=3, max_batches=2
    )
    publish(db, clock, 10, after_s=30)
    clock.advance(30)
    assert republisher.run_once().republished == 6
    assert len(due_pending(db, clock(), 100)) == 4  # the rest: the next round
    assert republisher.run_once().republished == 4


def test_items_remembered_without_a_record_are_stored_and_never_re_sent(db: Engine) -> None:
    remember_published(db, [PublishedRecord("a", "f", "Oil jumps")])
    assert published_states(db) == {"stored": 1}


@pytest.mark.parametrize(("after", "every"), [(120, 30), (2, 1), (3600, 60)])
def test_the_task_runs_a_fraction_of_the_wait(after: float, every: float) -> None:
    assert check_every(after) == every


def test_an_outage_is_one_line_and_the_task_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from sqlalchemy import create_engine

    dead: Any = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    republisher = Republisher(dead, Broker(), after_s=30, max_attempts=3)
    with caplog.at_level(logging.ERROR, logger="sources.pending"):
        republisher.run()
    assert "cannot check the pending published items" in caplog.text
    assert "Traceback" not in caplog.text
