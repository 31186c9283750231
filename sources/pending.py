"""Published is not stored: the scheduler's check that what it published arrived.

The broker's acknowledgement says the record was received, not that it will be kept:
the embedded broker keeps records in memory only, so a restart loses every record the
worker had not consumed yet. ``published_items`` therefore keeps each item ``pending``,
with the record as sent, until its id is in ``articles``. ``Republisher.run`` (a
housekeeping task of the scheduler) takes the pending items whose ``retry_at`` has
come, a batch at a time:

- those the worker has stored become ``stored`` (their record dropped);
- the others are sent again, same key and bytes (the worker's idempotent storage
  absorbs a repeat), and checked again after twice the wait;
- one still not stored after ``max_attempts`` re-publications is ``given_up``, logged
  with its id. The worker never stores a record it dead-letters (an id collision, a
  record the database refuses): the bound keeps it from being sent forever.

A syndicated copy (``duplicate_of``) is stored as an article like any item, so it
settles the same way. None of it runs under the poll's publish lock: it only touches
rows the polls have committed, and a poll never changes a remembered row.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy import Engine

from storage import feeds as feed_store
from storage.exceptions import StorageError
from storage.feeds import PendingItem

log = logging.getLogger(__name__)

#: Ids per batch (one look-up, one send, a few updates), and batches per round at most.
BATCH = 500
MAX_BATCHES = 20


class RecordSink(Protocol):
    def send_records(self, records: list[tuple[str, bytes]]) -> list[str]: ...


@dataclass(slots=True)
class RepublishRound:
    """What one round did."""

    stored: int = 0
    republished: int = 0
    unacknowledged: int = 0
    given_up: list[str] = field(default_factory=list)


def check_every(after_s: float) -> float:
    """How often the housekeeping task runs: a fraction of the wait, 1 s to 60 s."""
    return max(1.0, min(60.0, after_s / 4))


class Republisher:
    def __init__(
        self,
        engine: Engine,
        sink: RecordSink,
        *,
        after_s: float,
        max_attempts: int,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        batch: int = BATCH,
        max_batches: int = MAX_BATCHES,
    ) -> None:
        self.engine, self.sink = engine, sink
        self.after_s, self.max_attempts = after_s, max_attempts
        self.clock, self.batch, self.max_batches = clock, batch, max_batches
        #: Items given up since the start (also logged, each time, with their ids).
        self.given_up_total = 0

    def wait_after(self, attempts: int) -> timedelta:
        """How long after its ``attempts``-th send an item not stored is sent again."""
        return timedelta(seconds=self.after_s * 2 ** max(0, attempts - 1))

    def run(self) -> None:
        """One round (the scheduler's task): never raises; reports what it did."""
        try:
            result = self.run_once()
        except StorageError as e:
            log.error("cannot check the pending published items: %s", e)
            return
        except Exception:  # a bug must not end the task
            log.exception("checking the pending published items failed")
            return
        if result.republished:
            log.warning(
                "re-published %d items not stored after %gs or more (the broker may have "
                "lost them)",
                result.republished,
                self.after_s,
            )
        if result.unacknowledged:
            log.warning(
                "%d items to re-publish were not acknowledged: tried again in the next round",
                result.unacknowledged,
            )
        if result.given_up:
            shown = ", ".join(result.given_up[:5])
            more = f" and {len(result.given_up) - 5} more" if len(result.given_up) > 5 else ""
            log.error(
                "gave up %d items never stored after %d re-publications (%d given up since "
                "the start; a record the worker dead-letters is never stored): %s%s",
                len(result.given_up),
                self.max_attempts,
                self.given_up_total,
                shown,
                more,
            )

    def run_once(self) -> RepublishRound:
        """Settle the due pending items, at most ``max_batches`` batches of ``batch``."""
        result = RepublishRound()
        now = self.clock()
        after: tuple[datetime, str] | None = None
        for _ in range(self.max_batches):
            due = feed_store.due_pending(self.engine, now, self.batch, after=after)
            if not due:
                break
            broker_away = self._settle(due, now, result)
            if broker_away or len(due) < self.batch:
                break
            after = (due[-1].retry_at, due[-1].id)
        self.given_up_total += len(result.given_up)
        return result

    def _settle(self, due: list[PendingItem], now: datetime, result: RepublishRound) -> bool:
        """Settle one batch; True when the broker acknowledged none of its re-sends."""
        stored = feed_store.mark_stored(self.engine, [d.id for d in due])
        result.stored += len(stored)
        rest = [d for d in due if d.id not in stored]
        give_up = [d.id for d in rest if d.attempts > self.max_attempts]
        if give_up:
            result.given_up += sorted(feed_store.give_up_pending(self.engine, give_up))
        again = [d for d in rest if d.attempts <= self.max_attempts]
        if not again:
            return False
        acked = set(self.sink.send_records([(d.id, d.record) for d in again]))
        result.republished += len(acked)
        by_attempts: dict[int, list[str]] = {}
        for d in again:
            if d.id in acked:
                by_attempts.setdefault(d.attempts + 1, []).append(d.id)
        for attempts, ids in by_attempts.items():
            feed_store.mark_resent(self.engine, ids, now + self.wait_after(attempts))
        # Not acknowledged: left as they are, still due, so the next round tries again
        # (a batch of which none was acknowledged ends this round: the broker is away).
        result.unacknowledged += len(again) - len(acked)
        return not acked
