"""``finsent dashboard``: the Streamlit dashboard, on the configured address and port."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from finsent.cli.app import UserError, cli, setting_option, settings_from, stop_on_signals
from finsent.runtime import database_url, open_engine
from finsent.settings import Settings


def server_path() -> Path:
    """The dashboard's server script: the Streamlit app with every route behind the
    password, when one is set (``dashboard/server.py``)."""
    import dashboard

    return Path(dashboard.__file__).resolve().parent / "server.py"


def dashboard_environ(settings: Settings) -> dict[str, str]:
    """The plain values the dashboard process needs, as its environment variable."""
    from dashboard.config import DashboardConfig

    db, dash = settings.database, settings.dashboard
    config = DashboardConfig(
        database_url=database_url(settings),
        refresh_interval=dash.refresh_interval,
        password=dash.password.get_secret_value() if dash.password else None,
        model_path=settings.model_path,
        model_device=settings.model.device,
        model_variant=settings.model.variant,
        connect_retries=min(db.connect_retries, 2),
        connect_retry_delay=db.connect_retry_delay,
        connect_timeout=db.connect_timeout,
        pool_size=db.pool_size,
    )
    return config.to_environ()


def streamlit_argv(settings: Settings) -> list[str]:
    """``streamlit run`` on the dashboard: headless, no telemetry, no file watcher."""
    dash = settings.dashboard
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(server_path()),
        "--server.address",
        dash.host,
        "--server.port",
        str(dash.port),
        "--server.headless",
        "true",
        "--server.fileWatcherType",
        "none",
        "--server.runOnSave",
        "false",
        "--browser.gatherUsageStats",
        "false",
        "--global.developmentMode",
        "false",
        "--client.toolbarMode",
        "viewer",
        "--theme.base",
        "light",
    ]


def check_port_free(host: str, port: int) -> None:
    from streams.broker_process import port_taken

    problem = port_taken(host, port, "FINSENT_DASHBOARD_PORT")
    if problem is not None:
        raise UserError(problem)


@cli.command("dashboard")
@setting_option("--database-url", "db_url", concern="database", field="url")
@setting_option("--host", concern="dashboard", field="host")
@setting_option("--port", concern="dashboard", field="port", type=int)
@setting_option("--refresh-interval", concern="dashboard", field="refresh_interval", type=float)
def dashboard_command(
    db_url: str | None,
    host: str | None,
    port: int | None,
    refresh_interval: float | None,
) -> None:
    """Serve the Streamlit dashboard until Ctrl-C or SIGTERM.

    Checks that the database answers first (a clear line if it does not); the pages
    read PostgreSQL only: market mood, topics, live headlines,
    alerts, sources and the model. When FINSENT_DASHBOARD_PASSWORD is set, every route
    but the /_stcore/health probe asks for it first.
    """
    settings = settings_from(
        {
            "database": {"url": db_url},
            "dashboard": {"host": host, "port": port, "refresh_interval": refresh_interval},
        }
    )
    engine = open_engine(settings)  # fail now, with the host named, not in the browser
    engine.dispose()
    dash = settings.dashboard
    check_port_free(dash.host, dash.port)
    env = dict(os.environ)
    env.update(dashboard_environ(settings))
    click.echo(f"dashboard: http://{dash.host}:{dash.port}  (Ctrl-C stops it)", err=False)
    sys.stdout.flush()
    argv = streamlit_argv(settings)
    if settings.database_url is not None:
        os.execve(argv[0], argv, env)  # noqa: S606 - a fixed argv of our own, no shell
    # The embedded database server stops when this process exits: stay, as Streamlit's
    # parent, until it ends or we are told to stop.
    from finsent.supervisor import Child, supervise

    raise SystemExit(supervise([Child("dashboard", argv, env)], stop_on_signals(), sys.stdout))
