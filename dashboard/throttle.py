"""Wrong-password throttling: after ``max_failures`` wrong passwords from one client
within ``window_s`` seconds, that client may not try again until the oldest of them is
``window_s`` old. Plain logic with an injected clock; the dashboard keeps one per server."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field

MAX_FAILURES = 5
WINDOW_S = 300.0


@dataclass
class Throttle:
    max_failures: int = MAX_FAILURES
    window_s: float = WINDOW_S
    _failures: dict[str, deque[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def wait_s(self, client: str, now: float) -> float:
        """Seconds ``client`` must wait before its next try (0: it may try now)."""
        with self._lock:
            recent = self._recent(client, now)
            if len(recent) < self.max_failures:
                return 0.0
            return recent[0] + self.window_s - now

    def failed(self, client: str, now: float) -> None:
        """Record a wrong password from ``client``."""
        with self._lock:
            self._recent(client, now).append(now)
            if len(self._failures) > 10_000:  # bound the memory: forget idle clients
                for key in [k for k, v in self._failures.items() if not v]:
                    del self._failures[key]

    def _recent(self, client: str, now: float) -> deque[float]:
        times = self._failures.setdefault(client, deque())
        while times and times[0] <= now - self.window_s:
            times.popleft()
        return times
