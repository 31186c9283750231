"""Migrations build what the models say, up and down."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text

from storage import migrate
from storage.db import make_engine
from storage.exceptions import MigrationError
from storage.models import Base

TABLES = {t.name for t in Base.metadata.sorted_tables}


@pytest.fixture
def empty_url(empty_pg_url: str) -> str:
    return empty_pg_url


def test_upgrade_check_downgrade_roundtrip(empty_url: str) -> None:
    engine = make_engine(empty_url)
    assert migrate.current_revision(engine) is None
    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == migrate.head_revision()
    assert set(inspect(engine).get_table_names()) >= TABLES
    migrate.check(engine)  # models and migrations agree
    migrate.downgrade(engine, "base")
    assert migrate.current_revision(engine) is None
    assert not TABLES & set(inspect(engine).get_table_names())
    migrate.upgrade(engine)
    migrate.check(engine)
    engine.dispose()


def test_check_notices_drift(empty_url: str) -> None:
    engine = make_engine(empty_url)
    migrate.upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text("DROP INDEX ix_alerts_starts_at"))
    with pytest.raises(MigrationError, match="New upgrade operations detected"):
        migrate.check(engine)
    engine.dispose()


def test_an_unknown_revision_is_a_clear_error(empty_url: str) -> None:
    engine = make_engine(empty_url)
    with pytest.raises(MigrationError, match="nope"):
        migrate.upgrade(engine, "nope")
    engine.dispose()
