"""Series and articles to a CSV or Parquet file, a chunk at a time.

The rows are the API's (``api.schemas``): the same names as its JSON fields. They are
read in chunks (series by time windows, articles by keyset pages of ``latest_articles``)
and written as they come, so a million articles never sit in memory at once. The file is
written beside its final name and moved there once complete: a failed export leaves no
half file behind.
"""

from __future__ import annotations

import contextlib
import csv
import os
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from sqlalchemy import Engine

from api.schemas import ArticleOut, SeriesPointOut
from storage.articles import latest_articles, topic_series
from storage.buckets import floor_time

Format = Literal["csv", "parquet"]

#: Buckets per series query, and articles per page.
SERIES_CHUNK = 10_000
ARTICLE_CHUNK = 5_000
#: How a list (topics, tickers) is written in one CSV cell.
LIST_SEPARATOR = ";"


class ExportError(Exception):
    """The export could not be written; the message names the file and why."""


def series_chunks(
    engine: Engine,
    keys: list[str],
    start: datetime,
    end: datetime,
    resolution_s: int,
    chunk: int = SERIES_CHUNK,
) -> Iterator[list[SeriesPointOut]]:
    """Each key's zero-filled series over [start, end), by key then time, in windows of
    ``chunk`` buckets (each one ``topic_series`` query)."""
    span = timedelta(seconds=resolution_s * chunk)
    for key in keys:
        window = floor_time(start, resolution_s)
        while window < end:
            stop = min(window + span, end)
            points = topic_series(engine, [key], window, stop, resolution_s)
            yield [SeriesPointOut.from_view(p) for p in points]
            window = stop


def article_chunks(
    engine: Engine,
    start: datetime,
    end: datetime,
    topic: str | None = None,
    chunk: int = ARTICLE_CHUNK,
) -> Iterator[list[ArticleOut]]:
    """Articles published in [start, end) (on ``topic``), newest first, ``chunk`` a page."""
    last = None
    while True:
        page = latest_articles(engine, topic=topic, since=start, until=end, after=last, limit=chunk)
        if page:
            yield [ArticleOut.from_view(a) for a in page]
        if len(page) < chunk:
            return
        last = page[-1].key


def write_rows(path: Path, fmt: Format, model: type[BaseModel], chunks: Iterable[list[Any]]) -> int:
    """Write ``chunks`` of ``model`` rows to ``path``; the number of rows written."""
    partial = path.with_name(f".{path.name}.partial")
    try:
        written = (_write_csv if fmt == "csv" else _write_parquet)(partial, model, chunks)
        os.replace(partial, path)
    except OSError as e:
        _discard(partial)
        raise ExportError(f"cannot write {path}: {e.strerror or e}") from e
    except BaseException:
        _discard(partial)
        raise
    return written


def _discard(partial: Path) -> None:
    """Remove a half-written file, if there is one to remove."""
    with contextlib.suppress(OSError):  # never written (no directory): nothing to remove
        partial.unlink()


def _write_csv(path: Path, model: type[BaseModel], chunks: Iterable[list[BaseModel]]) -> int:
    written = 0
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=list(model.model_fields))
        writer.writeheader()
        for rows in chunks:
            writer.writerows(_csv_row(row.model_dump(mode="json")) for row in rows)
            written += len(rows)
    return written


def _csv_row(row: dict[str, Any]) -> dict[str, Any]:
    """A list (topics, tickers) as one cell: its items joined by ``LIST_SEPARATOR``."""
    return {k: LIST_SEPARATOR.join(v) if isinstance(v, list) else v for k, v in row.items()}


def _write_parquet(path: Path, model: type[BaseModel], chunks: Iterable[list[BaseModel]]) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema(
        [pa.field(name, arrow_type(info.annotation)) for name, info in model.model_fields.items()]
    )
    written = 0
    with path.open("wb") as sink, pq.ParquetWriter(sink, schema) as writer:
        for rows in chunks:
            table = pa.Table.from_pylist([row.model_dump() for row in rows], schema=schema)
            writer.write_table(table)
            written += len(rows)
    return written


def arrow_type(annotation: Any) -> Any:
    """The Arrow type of a row field: times in UTC microseconds, lists of strings."""
    import pyarrow as pa

    if get_origin(annotation) in (Union, UnionType):  # X | None: nullable X
        (annotation,) = (a for a in get_args(annotation) if a is not type(None))
    if get_origin(annotation) is list:
        return pa.list_(arrow_type(get_args(annotation)[0]))
    types: dict[Any, Any] = {
        str: pa.string(),
        int: pa.int64(),
        float: pa.float64(),
        bool: pa.bool_(),
        datetime: pa.timestamp("us", tz="UTC"),
    }
    if annotation not in types:
        raise TypeError(f"no Arrow type for {annotation!r}")
    return types[annotation]
