"""``finsent dashboard``: the Streamlit dashboard, on the configured address and port."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from finsent.cli.app import UserError, cli, settings_options, stop_on_signals
from finsent.runtime import dashboard_config, open_engine
from finsent.settings import Settings, env_var


def server_path() -> Path:
    """The dashboard's server script: the Streamlit app with every route behind the
    password, when one is set (``dashboard/server.py``)."""
    import dashboard

    return Path(dashboard.__file__).resolve().parent / "server.py"


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

    problem = port_taken(host, port, env_var("dashboard", "port"))
    if problem is not None:
        raise UserError(problem)


@cli.command("dashboard")
@settings_options("database.url", "dashboard.host", "dashboard.port", "dashboard.refresh_interval")
def dashboard_command(settings: Settings) -> None:
    """Serve the Streamlit dashboard until Ctrl-C or SIGTERM.

    Checks that the database answers first (a clear line if it does not); the pages
    read PostgreSQL only: market mood, topics, live headlines,
    alerts, sources and the model. When FINSENT_DASHBOARD_PASSWORD is set, every route
    but the /_stcore/health probe asks for it first.
    """
    engine = open_engine(settings)  # fail now, with the host named, not in the browser
    engine.dispose()
    dash = settings.dashboard
    check_port_free(dash.host, dash.port)
    env = dict(os.environ)
    env.update(dashboard_config(settings, engine).to_environ())
    click.echo(f"dashboard: http://{dash.host}:{dash.port}  (Ctrl-C stops it)", err=False)
    sys.stdout.flush()
    argv = streamlit_argv(settings)
    if settings.database_url is not None:
        os.execve(argv[0], argv, env)  # noqa: S606 - a fixed argv of our own, no shell
    # The embedded database server stops when this process exits: stay, as Streamlit's
    # parent, until it ends or we are told to stop.
    from finsent.supervisor import Child, supervise

    raise SystemExit(supervise([Child("dashboard", argv, env)], stop_on_signals(), sys.stdout))
