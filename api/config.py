"""What the API process needs, as plain values built by the composition root."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Engine


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ApiConfig:
    """The database, the accepted bearer tokens (none: no token is asked), the version the
    OpenAPI document names, and the clock that "now" comes from (a test fixes it)."""

    engine: Engine
    tokens: tuple[str, ...]
    version: str
    clock: Callable[[], datetime] = field(default=utc_now)
