"""A fresh PostgreSQL database for one benchmark run, migrated to head, dropped after."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from storage import migrate
from storage.db import make_engine

SERVER = os.environ.get(
    "FINSENT_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def fresh_database() -> tuple[Engine, Callable[[], None]]:
    server = make_url(SERVER)
    name = f"finsent_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(server.set(database=name).render_as_string(hide_password=False))
    migrate.upgrade(engine)

    def drop() -> None:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return engine, drop
