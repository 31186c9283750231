"""Bulk inserts on PostgreSQL: one ``INSERT ... SELECT unnest(array), ...`` per batch,
shared by every feature module's writes."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import (
    ARRAY,
    JSON,
    Connection,
    CursorResult,
    String,
    Table,
    Text,
    bindparam,
    cast,
    func,
    select,
)
from sqlalchemy.dialects import postgresql


def table_of(model: type[Any]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


def insert_many(
    conn: Connection,
    model: type[Any],
    rows: list[dict[str, Any]],
    finish: Callable[[Any], Any],
) -> CursorResult[Any] | None:
    """Insert ``rows`` (all with the same keys, in lock order) in one round trip.

    One ``INSERT ... SELECT unnest(array), ...`` whose text is the same for every batch
    (so it is prepared once) and whose parameters are one array per column. ``finish``
    adds the ON CONFLICT clause and any RETURNING. No rows, no statement.
    """
    if not rows:
        return None
    table = table_of(model)
    columns = list(rows[0])
    source = select(*(func.unnest(_pg_array(table, name)) for name in columns))
    stmt = finish(postgresql.insert(table).from_select(columns, source))
    params = {name: _pg_column(table, name, [row[name] for row in rows]) for name in columns}
    return conn.execute(stmt, params)


def _pg_array(table: Table, name: str) -> Any:
    """``CAST(:name AS <column type>[])``. JSON travels as text (nested lists would
    otherwise be read as a multi-dimensional array)."""
    column_type = table.c[name].type
    if isinstance(column_type, String):
        # VARCHAR(n)[] would silently truncate; unbounded text lets the column refuse.
        column_type = Text()
    bind_type = Text() if isinstance(column_type, JSON) else column_type
    return cast(bindparam(name, type_=ARRAY(bind_type)), ARRAY(column_type))


def _pg_column(table: Table, name: str, values: list[Any]) -> list[Any]:
    if isinstance(table.c[name].type, JSON):
        return [None if v is None else json.dumps(v) for v in values]
    return values
