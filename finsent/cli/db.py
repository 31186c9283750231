"""``finsent db ...``: schema migrations."""

from __future__ import annotations

import click

from finsent.cli.app import UserError, cli, settings_options
from finsent.runtime import open_engine
from finsent.settings import Settings


@cli.group("db")
def db_group() -> None:
    """Create and migrate the database schema (Alembic)."""


@db_group.command("upgrade")
@click.argument("revision", default="head")
@settings_options("database.url")
def upgrade_command(revision: str, settings: Settings) -> None:
    """Migrate the database up to REVISION (default: head)."""
    from storage import migrate

    engine = open_engine(settings)
    migrate.upgrade(engine, revision)
    click.echo(f"database at revision {migrate.current_revision(engine)}")


@db_group.command("downgrade")
@click.argument("revision", default="-1")
@settings_options("database.url")
def downgrade_command(revision: str, settings: Settings) -> None:
    """Migrate the database down to REVISION (default: one step; 'base' empties it)."""
    from storage import migrate

    engine = open_engine(settings)
    migrate.downgrade(engine, revision)
    click.echo(f"database at revision {migrate.current_revision(engine) or 'base (empty)'}")


@db_group.command("current")
@settings_options("database.url")
def current_command(settings: Settings) -> None:
    """Print the database's revision and whether it is at head."""
    from storage import migrate

    engine = open_engine(settings)
    current, head = migrate.current_revision(engine), migrate.head_revision()
    state = "up to date" if current == head else f"behind head {head}: run `finsent db upgrade`"
    click.echo(f"{current or 'base (empty)'} ({state})")


@db_group.command("check")
@settings_options("database.url")
def check_command(settings: Settings) -> None:
    """Compare the models with what the migrations build; exit 1 if they differ.

    The database must be at head (run `finsent db upgrade` first).
    """
    from storage import migrate

    engine = open_engine(settings)
    current, head = migrate.current_revision(engine), migrate.head_revision()
    if current != head:
        raise UserError(
            f"database is at {current or 'base'}, not head {head}: run `finsent db upgrade` first"
        )
    migrate.check(engine)
    click.echo("models and migrations agree")
