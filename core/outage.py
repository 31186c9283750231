"""One log line when something starts failing, not one per try.

A worker's timers and loops (the counters flush every 5 s, alert evaluation, the
webhook outbox) keep trying while PostgreSQL or Kafka is away. Logging every failed try
filled the log with the same multi-line driver message every few seconds. An
``Outage`` says once that it began (the error's first line), reminds every
``remind_s`` how long it has lasted and how many tries failed, and says once when it
is over.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from core.errors import first_line


@dataclass
class Outage:
    """The failing state of one repeated action, named by ``what`` ("writing the
    worker counters"); ``failed`` and ``succeeded`` are called after each try."""

    what: str
    log: logging.Logger
    remind_s: float = 300.0
    failures: int = 0
    _since: float | None = None
    _reminded_at: float = 0.0

    @property
    def ongoing(self) -> bool:
        return self._since is not None

    def failed(self, error: BaseException, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self.failures += 1
        reason = f"{type(error).__name__}: {first_line(error)}"
        if self._since is None:
            self._since, self._reminded_at = now, now
            self.log.warning("%s failed (%s); retrying quietly", self.what, reason)
        elif now - self._reminded_at >= self.remind_s:
            self._reminded_at = now
            self.log.warning(
                "%s still failing after %.0f s and %d tries (%s)",
                self.what,
                now - self._since,
                self.failures,
                reason,
            )

    def succeeded(self, now: float | None = None) -> None:
        if self._since is None:
            return
        now = time.monotonic() if now is None else now
        self.log.info(
            "%s works again after %.0f s and %d failed tries",
            self.what,
            now - self._since,
            self.failures,
        )
        self._since, self.failures = None, 0
