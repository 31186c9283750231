from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.dialects import postgresql

from storage.db import describe, parse_url, refusal
from storage.exceptions import DatabaseAuthFailed, DatabaseMissing, InvalidDatabaseURL
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


def test_storage_does_not_name_finsent_settings() -> None:
    with pytest.raises(InvalidDatabaseURL) as e:
        parse_url("mysql://root@localhost/db")
    assert "FINSENT_" not in str(e.value)


class DriverError(Exception):
    """A driver error as psycopg raises it: a message, and a SQLSTATE when it has one."""

    def __init__(self, message: str, sqlstate: str | None = None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


FAILED = 'connection failed: connection to server at "db" (10.0.0.5), port 5432 failed: '
URL = "postgresql://app:hunter2@db:5432/finsent"


@pytest.mark.parametrize(
    ("error", "kind", "message"),
    [
        (
            DriverError(FAILED + 'FATAL:  database "finsent" does not exist'),
            DatabaseMissing,
            'database "finsent" does not exist on the server at db:5432: create it',
        ),
        (
            DriverError("no such database", sqlstate="3D000"),
            DatabaseMissing,
            'CREATE DATABASE "finsent"',
        ),
        (
            DriverError(FAILED + 'FATAL:  password authentication failed for user "app"'),
            DatabaseAuthFailed,
            "the server at db:5432 refused user 'app': password authentication failed for "
            'user "app": check the user name and password',
        ),
        (
            DriverError(FAILED + 'FATAL:  role "app" does not exist'),
            DatabaseAuthFailed,
            'role "app" does not exist',
        ),
        (
            DriverError(FAILED + 'FATAL:  no pg_hba.conf entry for host "10.0.0.9", user "app"'),
            DatabaseAuthFailed,
            "no pg_hba.conf entry",
        ),
        (DriverError("auth", sqlstate="28P01"), DatabaseAuthFailed, "refused user 'app'"),
        (
            DriverError(FAILED + "fe_sendauth: no password supplied"),
            DatabaseAuthFailed,
            "no password supplied",
        ),
    ],
)
def test_refusals_are_permanent_and_say_what_to_do(
    error: Exception, kind: type[Exception], message: str
) -> None:
    refused = refusal(error, parse_url(URL))
    assert isinstance(refused, kind)
    assert message in str(refused)
    assert "hunter2" not in str(refused)


@pytest.mark.parametrize(
    "message",
    [
        FAILED + "Connection refused\n\tIs the server running on that host?",
        FAILED + "FATAL:  the database system is starting up",
        FAILED + 'FATAL:  too many connections for role "app"',
        FAILED + "timeout expired",
        'failed to resolve host "db": Name or service not known',
    ],
)
def test_an_unreachable_or_busy_server_is_not_a_refusal(message: str) -> None:
    assert refusal(DriverError(message), parse_url(URL)) is None


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
