"""Pieces every page uses: the empty and error states, safe text, number formats."""

from __future__ import annotations

import re
from collections.abc import Mapping

import streamlit as st
from PIL import Image, ImageDraw

from dashboard import loaders
from storage.buckets import key_entity

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")

EMPTY_STATE = """\
**No scored news in the database yet.** The dashboard fills in as soon as the
pipeline stores its first articles. To start it:

- everything on this machine, with a demo replay: `finsent up --demo`
- or the worker alone: `finsent worker`, then feed it with
  `finsent publish FILE` (CSV/JSONL news items) or `finsent replay FILE --speed 60`

The pages refresh by themselves; nothing needs a reload.
"""


def plain(text: object) -> str:
    """Text for a markdown element with every markdown and HTML character escaped, so
    a hostile string stays the string it is (no links, no emphasis, no tags)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(text)).replace("\n", " ")


def require_data() -> bool:
    """Show the empty or error state and return False when there is nothing to show."""
    return show_state(loaders.database_state())


def show_state(state: loaders.DatabaseState) -> bool:
    """Show what an empty, unmigrated or unreachable database means; True when ready."""
    if state.status == "ready":
        return True
    if state.status == "empty":
        st.info(EMPTY_STATE, icon=":material/hourglass_empty:")
    elif state.status == "unmigrated":
        st.warning(
            "The database has no finsent tables yet: run `finsent db upgrade` "
            "(`finsent up` does it for you).",
            icon=":material/database:",
        )
    else:
        st.error(f"Cannot read the database: {plain(state.message)}", icon=":material/error:")
    return False


def topic_label(option: str, companies: Mapping[str, str]) -> str:
    """A topic as the pickers show it: a company (``entity:<id>``) by its name and id,
    ``Apple Inc. (AAPL)``; a topic, or a company the registry no longer has, as it is."""
    entity_id = key_entity(option)
    name = companies.get(entity_id) if entity_id is not None else None
    return f"{name} ({entity_id})" if name else option


def signed(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:+.{digits}f}"


def percent(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{100 * value:.{digits}f} %"


def favicon() -> Image.Image:
    """A small falling-line icon, drawn locally (no request leaves the browser for it)."""
    image = Image.new("RGBA", (32, 32), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((0, 0, 31, 31), radius=6, fill=(31, 41, 55, 255))
    draw.line([(5, 9), (12, 14), (18, 11), (27, 24)], fill=(239, 68, 68, 255), width=3)
    return image
