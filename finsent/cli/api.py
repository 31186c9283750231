"""``finsent api`` (the read API over HTTP) and ``finsent export`` (series or articles to
a CSV or Parquet file): the stored data for programs, read as the dashboard reads it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from finsent.cli.app import UserError, cli, settings_options
from finsent.runtime import api_config, open_engine
from finsent.settings import Settings, env_var
from storage.buckets import RESOLUTIONS

if TYPE_CHECKING:
    from pydantic import BaseModel


def check_api_startable(settings: Settings) -> None:
    """Refuse now, with the reason, an API that would serve without a token beyond this
    machine, or whose port is taken."""
    from api.auth import is_loopback, parse_tokens
    from streams.broker_process import port_taken

    api = settings.api
    token = api.token.get_secret_value() if api.token is not None else None
    if not parse_tokens(token) and not is_loopback(api.host):
        var = env_var("api", "token")
        raise UserError(
            f"{var} is not set, and without a token the API serves on a loopback address "
            f"only (127.0.0.1, ::1, localhost); {api.host} (--host / "
            f"{env_var('api', 'host')}) is not one. Set {var} (or {var}_FILE) to the "
            "token(s) clients must send, or listen on 127.0.0.1.",
            exit_code=2,
        )
    problem = port_taken(api.host, api.port, env_var("api", "port"))
    if problem is not None:
        raise UserError(problem)


@cli.command("api")
@settings_options("database.url", "api.host", "api.port")
def api_command(settings: Settings) -> None:
    """Serve the read API until Ctrl-C or SIGTERM.

    JSON over HTTP, versioned under /v1: health, topics, series, articles, alerts and
    sources, with OpenAPI at /openapi.json and its docs at /docs. Every route but
    /v1/health asks for `Authorization: Bearer <token>` when FINSENT_API_TOKEN is set;
    without it the API serves on a loopback address only.
    """
    import uvicorn

    from api.app import create_app

    check_api_startable(settings)
    engine = open_engine(settings)  # fail now, with the host named, not per request
    api = settings.api
    click.echo(f"api: http://{api.host}:{api.port}/docs  (Ctrl-C stops it)")
    uvicorn.run(
        create_app(api_config(settings, engine)), host=api.host, port=api.port, log_config=None
    )
    engine.dispose()


class AwareTime(click.ParamType):
    """An ISO 8601 time with a zone, or a date (its 00:00 UTC)."""

    name = "time"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, datetime):
            return value
        try:
            day = date.fromisoformat(value)
        except ValueError:
            pass
        else:
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            self.fail(f"{value!r} is not an ISO 8601 time, e.g. 2026-03-02T09:00:00Z", param, ctx)
        if moment.tzinfo is None:
            self.fail(f"{value!r} has no time zone: add Z or an offset such as +01:00", param, ctx)
        return moment


@cli.command("export")
@settings_options("database.url")
@click.option(
    "--what",
    type=click.Choice(["series", "articles"]),
    required=True,
    help="series: counts and mean polarity per bucket of each --key; articles: the "
    "articles with their sentiment and topics, newest first.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "parquet"]),
    default="csv",
    show_default=True,
    help="File format (the columns are the API's JSON fields; a list is one CSV cell, "
    "its items joined by ';').",
)
@click.option(
    "--start",
    type=AwareTime(),
    required=True,
    help="From this time on (ISO 8601 with a zone, or a date: its 00:00 UTC).",
)
@click.option("--end", type=AwareTime(), default=None, help="Before this time. Default: now.")
@click.option(
    "--key",
    "keys",
    multiple=True,
    help="series: a series key (a topic name), repeatable, at least one; articles: only "
    "the articles on this topic (one at most).",
)
@click.option(
    "--resolution",
    type=click.Choice(list(RESOLUTIONS)),
    default="1h",
    show_default=True,
    help="Bucket width of a series.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The file to write (replaced once complete).",
)
def export_command(
    what: str,
    fmt: str,
    start: datetime,
    end: datetime | None,
    keys: tuple[str, ...],
    resolution: str,
    out: Path,
    settings: Settings,
) -> None:
    """Write series or articles of a time range to a CSV or Parquet file.

    Reads in chunks (series by time windows, articles a page at a time), so any range
    fits in memory; prints how many rows it wrote.
    """
    from api.export import ExportError, Format, article_chunks, series_chunks, write_rows
    from api.schemas import ArticleOut, SeriesPointOut

    end = end or datetime.now(UTC)
    if end <= start:
        raise click.UsageError(f"--end {end.isoformat()} is not after --start {start.isoformat()}")
    if what == "series" and not keys:
        raise click.UsageError("--what series needs at least one --key (a topic name)")
    if what == "articles" and len(keys) > 1:
        raise click.UsageError("--what articles takes one --key (a topic) at most")
    file_format: Format = "parquet" if fmt == "parquet" else "csv"
    engine = open_engine(settings)
    model: type[BaseModel]
    chunks: Iterator[list[Any]]
    if what == "series":
        model = SeriesPointOut
        chunks = series_chunks(engine, list(keys), start, end, RESOLUTIONS[resolution])
    else:
        model = ArticleOut
        chunks = article_chunks(engine, start, end, topic=keys[0] if keys else None)
    try:
        written = write_rows(out, file_format, model, chunks)
    except ExportError as e:
        raise UserError(str(e)) from None
    finally:
        engine.dispose()
    click.echo(f"wrote {written:,} {what} rows to {out}")
