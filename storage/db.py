"""Engines: built from a URL, checked with a bounded retry, never at import time."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError

from core.errors import first_line
from storage.exceptions import (
    DatabaseAuthFailed,
    DatabaseMissing,
    DatabaseRefused,
    DatabaseUnavailable,
    InvalidDatabaseURL,
)

log = logging.getLogger(__name__)

SUPPORTED_BACKENDS = ("postgresql",)


@dataclass(frozen=True, slots=True)
class EngineOptions:
    connect_retries: int = 5
    connect_retry_delay: float = 1.0
    connect_timeout: float = 5.0
    pool_size: int = 5
    echo: bool = False


def parse_url(url: str) -> URL:
    """Parse and check a database URL; a plain ``postgresql://`` uses psycopg 3."""
    try:
        parsed = make_url(url)
    except ArgumentError as e:
        raise InvalidDatabaseURL(f"cannot parse database URL {_redact(url)!r}: {e}") from None
    if parsed.get_backend_name() not in SUPPORTED_BACKENDS:
        raise InvalidDatabaseURL(
            f"unsupported database {parsed.get_backend_name()!r} in {describe(parsed)!r}: "
            "finsent runs on PostgreSQL only; give postgresql://user:password@host:5432/db"
        )
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def describe(url: URL) -> str:
    """The URL with its password hidden, for messages and logs."""
    return url.render_as_string(hide_password=True)


def _redact(raw: str) -> str:
    """Hide anything that looks like a password in a URL we could not parse."""
    if "@" in raw and "://" in raw:
        scheme, rest = raw.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}"
    return raw


def make_engine(url: str, options: EngineOptions | None = None) -> Engine:
    """Create an engine and prove it can connect, retrying with a doubling delay.

    Raises ``InvalidDatabaseURL`` for a URL that cannot work, ``DatabaseRefused`` at once
    for a server that refuses the URL's database or credentials, and
    ``DatabaseUnavailable`` (naming the host) once the retry budget is spent.
    """
    options = options or EngineOptions()
    parsed = parse_url(url)
    engine = _create(parsed, options)
    wait_until_reachable(engine, options.connect_retries, options.connect_retry_delay)
    return engine


def _create(url: URL, options: EngineOptions) -> Engine:
    connect_args = {"connect_timeout": max(1, round(options.connect_timeout))}
    try:
        return create_engine(
            url,
            echo=options.echo,
            pool_pre_ping=True,
            pool_size=options.pool_size,
            connect_args=connect_args,
        )
    except (ArgumentError, NoSuchModuleError, ImportError) as e:
        raise InvalidDatabaseURL(f"cannot use database URL {describe(url)!r}: {e}") from None


def wait_until_reachable(
    engine: Engine,
    retries: int,
    delay: float,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Run ``SELECT 1`` until it works, at most ``retries`` more times after the first.

    Only an unreachable server is retried: a refusal (``refusal``) is raised at once.
    """
    url = engine.url
    where = _where(url)
    for attempt in range(retries + 1):
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return
        except OperationalError as e:
            refused = refusal(e.orig or e, url)
            if refused is not None:
                raise refused from None
            reason = first_line(e)
            if attempt == retries:
                raise DatabaseUnavailable(
                    f"cannot connect to the database at {where} after {attempt + 1} "
                    f"attempt(s): {reason}"
                ) from None
            wait = delay * 2**attempt
            log.warning(
                "database at %s not reachable (%s); retry %d/%d in %.1fs",
                where,
                reason,
                attempt + 1,
                retries,
                wait,
            )
            sleep(wait)


#: SQLSTATEs of a server that answered and refused: the database, the user, the password.
MISSING_DATABASE_STATES = ("3D000",)
AUTH_FAILED_STATES = ("28P01", "28000")
#: The server's (English) messages for them: a connection error carries no SQLSTATE.
_MISSING_DATABASE_RE = re.compile(r'database "([^"]*)" does not exist')
_AUTH_FAILED_RE = re.compile(
    r"password authentication failed|role \"[^\"]*\" does not exist|no pg_hba\.conf entry|"
    r"(?:peer|ident|gss|sspi|ldap|radius|cert|pam|scram|md5) authentication failed|"
    r"no password supplied",
    re.IGNORECASE,
)


def refusal(error: BaseException, url: URL) -> DatabaseRefused | None:
    """The permanent error for a connection ``error`` (the driver's) that retrying cannot
    fix, or None for one that may pass (the server is down, starting, overloaded)."""
    state = getattr(error, "sqlstate", None)
    message = str(error)
    reason = _fatal_line(message)
    where = _server(url)
    missing = _MISSING_DATABASE_RE.search(message)
    if state in MISSING_DATABASE_STATES or missing:
        name = missing.group(1) if missing else (url.database or "")
        return DatabaseMissing(
            f'database "{name}" does not exist on the server at {where}: create it '
            f'(CREATE DATABASE "{name}") or give the name of one that exists'
        )
    if state in AUTH_FAILED_STATES or _AUTH_FAILED_RE.search(message):
        return DatabaseAuthFailed(
            f"the server at {where} refused user {url.username or '(none)'!r}: {reason}: "
            "check the user name and password in the database URL (and that the server "
            "lets this user connect from here)"
        )
    return None


def _fatal_line(message: str) -> str:
    """The server's reason in a libpq message (after ``FATAL:``), or its first line."""
    for line in message.splitlines():
        if "FATAL:" in line:
            return line.split("FATAL:", 1)[1].strip()
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    return lines[0] if lines else "refused"


def _server(url: URL) -> str:
    host = url.host or url.query.get("host") or "localhost"
    port = url.port or url.query.get("port") or 5432
    return f"{host}:{port}"


def _where(url: URL) -> str:
    return f"{_server(url)}/{url.database or ''}"
