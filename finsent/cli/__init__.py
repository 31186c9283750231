"""The ``finsent`` command line: one group, a module of subcommands per concern."""

from __future__ import annotations

# Importing a command module registers its subcommands on the group.
from finsent.cli import broker, config, db, demo, model, pipeline, up  # noqa: F401
from finsent.cli.app import cli, main

__all__ = ["cli", "main"]
