"""``finsent tag``: the topics and tickers the watchlist gives headlines, to try a change."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Iterator

import click

from core.errors import ConfigFileError
from finsent.cli.app import Option, UserError, cli, settings_options
from finsent.runtime import load_watchlist
from finsent.settings import Settings

#: Terminal columns the text takes in a line (CJK characters take two each).
TEXT_COLUMNS = 60


def columns(char: str) -> int:
    """Terminal columns of one character: two for wide and full-width ones (CJK)."""
    return 2 if unicodedata.east_asian_width(char) in "WF" else 1


def shorten(text: str, width: int = TEXT_COLUMNS) -> str:
    """``text`` on one line, cut to ``width`` columns with "…", padded to them."""
    text = " ".join(text.split())
    if sum(map(columns, text)) > width:
        used, cut = 0, 0
        while used + columns(text[cut]) <= width - 1:
            used += columns(text[cut])
            cut += 1
        text = text[:cut] + "…"
    return text + " " * (width - sum(map(columns, text)))


def read_texts(texts: Iterable[str], stdin: Iterable[str]) -> Iterator[str]:
    """The texts given, with ``-`` (or nothing given) standing for the lines of stdin;
    blank lines are skipped."""
    texts = list(texts) or ["-"]
    for text in texts:
        if text == "-":
            yield from (line.rstrip("\r\n") for line in stdin if line.strip())
        else:
            yield text


@cli.command("tag")
@click.argument("texts", nargs=-1, metavar="[TEXT]...")
@settings_options(Option("pipeline.watchlist", metavar="FILE"))
def tag_command(texts: tuple[str, ...], settings: Settings) -> None:
    """Print the topics and tickers the watchlist gives each TEXT, one line each: the
    text, its topics (besides the market-wide one), its tickers. Without TEXT, or
    with "-", read texts from stdin, one a line. Try a watchlist change with it.
    """
    from streams.tagging import tag

    try:
        watchlist = load_watchlist(settings)
    except ConfigFileError as e:
        raise UserError(str(e), exit_code=2) from None
    for text in read_texts(texts, click.get_text_stream("stdin")):
        tags = tag(watchlist, text)
        topics = ", ".join(t for t in tags.topics if t != watchlist.market_topic) or "-"
        tickers = ", ".join(tags.tickers) or "-"
        click.echo(f"{shorten(text)}  topics: {topics}  tickers: {tickers}")
