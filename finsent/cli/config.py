"""``finsent config``: the effective settings, secrets masked."""

from __future__ import annotations

import json

import click

from finsent.cli.app import cli, settings_from
from finsent.settings import masked


@cli.command("config")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def config_command(as_json: bool) -> None:
    """Print the effective settings (environment and defaults), secrets masked."""
    settings = settings_from()
    values = masked(settings)
    derived = {
        "database url in use": (
            _mask_url(settings.database_url)
            if settings.database_url is not None
            else f"embedded PostgreSQL under {settings.embedded_database} (started on use)"
        ),
        "kafka bootstrap in use": settings.bootstrap_servers,
        "model path in use": settings.model_path,
    }
    if as_json:
        click.echo(json.dumps({"settings": values, "derived": derived}, indent=2, default=str))
        return
    for concern, fields in values.items():
        click.echo(f"[{concern}]")
        for var, value in fields.items():
            click.echo(f"  {var} = {value if value is not None else '(unset)'}")
    click.echo("[derived]")
    for name, value in derived.items():
        click.echo(f"  {name}: {value}")


def _mask_url(url: str) -> str:
    from storage.db import describe, parse_url

    return describe(parse_url(url))
