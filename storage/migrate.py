"""Schema migrations with Alembic, driven from code (``finsent db ...``), no alembic.ini."""

from __future__ import annotations

import io
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Engine

from storage.exceptions import MigrationError

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(engine: Engine, output: io.StringIO | None = None) -> Config:
    """An Alembic config bound to ``engine`` (the env script reuses its connection)."""
    cfg = Config(stdout=output or io.StringIO())
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    _run(lambda cfg: command.upgrade(cfg, revision), engine)


def downgrade(engine: Engine, revision: str = "-1") -> None:
    _run(lambda cfg: command.downgrade(cfg, revision), engine)


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None for an empty database."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str:
    head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
    assert head is not None
    return head


def check(engine: Engine) -> None:
    """Raise ``MigrationError`` if the models differ from what the migrations build."""
    _run(command.check, engine)


def _run(action: object, engine: Engine) -> None:
    cfg = alembic_config(engine)
    try:
        action(cfg)  # type: ignore[operator]
    except CommandError as e:
        raise MigrationError(str(e).splitlines()[0]) from None
