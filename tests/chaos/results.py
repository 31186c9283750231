"""What each chaos scenario measured: one JSON line per scenario, and the summary table."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from tests.conftest import REPO

RESULTS = REPO / "test-artifacts" / "chaos-results.jsonl"
#: The rows this run saved (the file keeps earlier runs' too).
SAVED: list[dict[str, Any]] = []


@dataclass
class ChaosResult:
    """What one scenario measured (a row of the results table)."""

    scenario: str
    published: int = 0
    stored: int = 0
    lost: int = 0
    duplicate_records: int = 0
    miscounted_buckets: int = 0
    longest_stall_s: float = 0.0
    drain_s: float = 0.0
    lag_after: int = -1
    notes: dict[str, Any] = field(default_factory=dict)

    def save(self) -> None:
        RESULTS.parent.mkdir(exist_ok=True)
        row = {**asdict(self), "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        with RESULTS.open("a") as f:
            f.write(json.dumps(row) + "\n")
        SAVED.append(row)


def summary_lines(rows: list[dict[str, Any]]) -> list[str]:
    """The rows as the Markdown table BENCHMARKS.md quotes."""
    lines = [
        "| scenario | published | stored | lost | duplicate records | miscounted buckets "
        "| longest stall, s | drain, s | lag after | alert events / webhooks received |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        notes = r.get("notes", {})
        alerts = (
            f"{notes['alert_events']} / {notes['webhooks_received']}"
            if "alert_events" in notes
            else "-"
        )
        lines.append(
            f"| {r['scenario']} | {r['published']} | {r['stored']} | {r['lost']} | "
            f"{r['duplicate_records']} | {r['miscounted_buckets']} | "
            f"{r['longest_stall_s']:.1f} | {r['drain_s']:.1f} | {r['lag_after']} | {alerts} |"
        )
    return lines
