"""Turn settings into the plain values and live objects the packages take."""

from __future__ import annotations

from sqlalchemy import Engine

from finsent.settings import Settings


def open_engine(settings: Settings) -> Engine:
    """The database engine, connected (bounded retry) or a clear error naming the host."""
    from storage.db import EngineOptions, make_engine

    db = settings.database
    return make_engine(
        settings.database_url,
        EngineOptions(
            connect_retries=db.connect_retries,
            connect_retry_delay=db.connect_retry_delay,
            connect_timeout=db.connect_timeout,
            pool_size=db.pool_size,
            echo=db.echo,
        ),
    )
