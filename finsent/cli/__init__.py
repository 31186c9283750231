"""The ``finsent`` command line: one group, a module of subcommands per concern."""

from __future__ import annotations

# Importing a command module registers its subcommands on the group.
from finsent.cli import (  # noqa: F401
    alerts,
    api,
    broker,
    config,
    dashboard,
    db,
    demo,
    model,
    pipeline,
    scheduler,
    tag,
    up,
)
from finsent.cli.app import cli, main

__all__ = ["cli", "main"]
