from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.dialects import postgresql

from storage.db import describe, parse_url
from storage.exceptions import InvalidDatabaseURL
from storage.sqltypes import UTCDateTime


def test_plain_postgresql_urls_use_psycopg3() -> None:
    assert parse_url("postgresql://u@h/db").drivername == "postgresql+psycopg"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "cannot parse database URL"),
        ("mysql://root@localhost/db", "unsupported database 'mysql'"),
        ("sqlite:///finsent.db", "finsent runs on PostgreSQL only"),
        ("", "cannot parse"),
    ],
)
def test_bad_urls_are_explained(url: str, message: str) -> None:
    with pytest.raises(InvalidDatabaseURL, match=message):
        parse_url(url)


def test_messages_never_show_the_password() -> None:
    with pytest.raises(InvalidDatabaseURL) as e:
        parse_url("oracle://scott:tiger@host/db")
    assert "tiger" not in str(e.value)
    assert "tiger" not in describe(parse_url("postgresql://scott:tiger@host/db"))


def test_utc_datetime_refuses_naive_values() -> None:
    column = UTCDateTime()
    with pytest.raises(ValueError, match="naive datetime"):
        column.process_bind_param(datetime(2026, 1, 1), postgresql.dialect())  # noqa: DTZ001


def test_utc_datetime_stores_utc() -> None:
    column = UTCDateTime()
    local = datetime(2026, 1, 1, 1, 0, tzinfo=timezone(timedelta(hours=2)))
    assert column.process_bind_param(local, postgresql.dialect()) == datetime(
        2025, 12, 31, 23, 0, tzinfo=UTC
    )
    back = column.process_result_value(local, postgresql.dialect())
    assert back == local and back is not None and back.tzinfo is UTC
