"""How long a failing feed rests before it is polled again."""

from __future__ import annotations

from datetime import datetime, timedelta


def backoff_s(failures: int, interval_s: float, max_backoff_s: float) -> float:
    """Seconds to wait after ``failures`` consecutive failures: none after the first
    (the next poll comes at the interval anyway), then the interval doubled per further
    failure, capped at ``max_backoff_s`` (and never below the interval itself)."""
    if failures <= 1:
        return 0.0
    delay = interval_s * 2.0 ** min(failures - 1, 30)
    return max(interval_s, min(delay, max_backoff_s))


def retry_at(
    failures: int, interval_s: float, max_backoff_s: float, now: datetime
) -> datetime | None:
    """When a feed with ``failures`` consecutive failures may be polled again."""
    delay = backoff_s(failures, interval_s, max_backoff_s)
    return now + timedelta(seconds=delay) if delay > 0 else None
