"""The ``finsent`` command line: one group, a module of subcommands per concern."""

from __future__ import annotations

from finsent.cli.app import cli, main
from finsent.cli import broker, config, db, up  # noqa: F401  (registers the subcommands)

__all__ = ["cli", "main"]
