"""Errors every package raises or reports the same way."""

from __future__ import annotations


class ConfigFileError(Exception):
    """A configuration file (watchlist, feeds, rules, receivers) is malformed; the message
    names the file and line."""


def first_line(error: BaseException) -> str:
    """The first non-empty line of a (driver) error, for a one-line message."""
    cause = getattr(error, "orig", None) or error
    lines = [line.strip() for line in str(cause).splitlines() if line.strip()]
    return lines[0] if lines else type(cause).__name__
