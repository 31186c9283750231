"""A fresh PostgreSQL database for one benchmark run, migrated to head, dropped after.

The server is ``FINSENT_BENCH_DATABASE_URL`` when set, else an embedded one (the wheel
finsent's default uses) in a temporary directory, stopped and removed when the run ends.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL, make_url

from storage import migrate
from storage.db import make_engine
from storage.embedded import start_embedded


@functools.cache
def server() -> URL:
    given = os.environ.get("FINSENT_BENCH_DATABASE_URL")
    if given:
        return make_url(given)
    directory = Path(tempfile.mkdtemp(prefix="finsent-bench-pg-"))
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    return start_embedded(directory / "pgdata", database="postgres")


def fresh_database() -> tuple[Engine, Callable[[], None]]:
    server_url = server()
    name = f"finsent_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(server_url.set(database=name).render_as_string(hide_password=False))
    migrate.upgrade(engine)

    def drop() -> None:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return engine, drop
