"""Worker processes: each agent's counters, written by the worker and read by the
dashboard. Plain data in and out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from storage.bulk import insert_many
from storage.models import WorkerCountersRow


@dataclass(frozen=True, slots=True)
class AgentCounts:
    """What one agent of one worker process has counted since the process started."""

    agent: str
    processed: int = 0
    dead_lettered: int = 0
    retried: int = 0
    batches: int = 0
    #: the group's lag on the partitions of the agent's topic this worker holds (None:
    #: not read yet)
    lag: int | None = None


@dataclass(frozen=True, slots=True)
class WorkerCountersView:
    worker: str
    agent: str
    started_at: datetime
    updated_at: datetime
    processed: int
    dead_lettered: int
    retried: int
    batches: int
    lag: int | None = None


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
            "lag": c.lag,
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
                    "lag",
                )
            },
        )

    with engine.begin() as conn:
        insert_many(conn, WorkerCountersRow, rows, replace)


def worker_counters(engine: Engine) -> list[WorkerCountersView]:
    """Every worker's agent counters, most recently updated first."""
    query = select(WorkerCountersRow).order_by(
        WorkerCountersRow.updated_at.desc(), WorkerCountersRow.worker, WorkerCountersRow.agent
    )
    with Session(engine) as session:
        return [
            WorkerCountersView(
                worker=w.worker,
                agent=w.agent,
                started_at=w.started_at,
                updated_at=w.updated_at,
                processed=w.processed,
                dead_lettered=w.dead_lettered,
                retried=w.retried,
                batches=w.batches,
                lag=w.lag,
            )
            for w in session.scalars(query)
        ]
