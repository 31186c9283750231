"""Keyset pages: the opaque cursor a page's ``next`` link carries, and the link itself.

A cursor is the (time, id) key of the last row of a page, base64url-encoded JSON, so a
client treats it as opaque and the next page starts exactly after that row."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from urllib.parse import urlencode


class BadCursor(ValueError):
    """A cursor this API did not give out."""


def encode_cursor(key: tuple[datetime, str]) -> str:
    raw = json.dumps([key[0].isoformat(), key[1]], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The key inside ``cursor``; ``BadCursor`` for anything else."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        when, key = json.loads(raw)
        moment = datetime.fromisoformat(when)
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError) as e:
        raise BadCursor("cursor is not one this API gave out: take it from a page's next") from e
    if not isinstance(key, str) or moment.tzinfo is None:
        raise BadCursor("cursor is not one this API gave out: take it from a page's next")
    return moment, key


def next_link(path: str, params: list[tuple[str, str]], key: tuple[datetime, str]) -> str:
    """The path and query of the page after the one ending at ``key``: the same filters
    and limit, the cursor replaced."""
    kept = [(name, value) for name, value in params if name != "cursor"]
    return f"{path}?{urlencode([*kept, ('cursor', encode_cursor(key))])}"
