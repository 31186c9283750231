"""``finsent scheduler`` (poll the feeds, publish to news.raw) and ``finsent sources``."""

from __future__ import annotations

import json
import logging
import signal
from datetime import UTC, datetime
from types import FrameType
from typing import TYPE_CHECKING, Any

import click

from finsent.cli.app import UserError, cli, settings_options, stop_on_signals
from finsent.runtime import open_engine, open_raw_publisher, scheduler_config
from finsent.settings import Settings, env_var, option_flag

if TYPE_CHECKING:
    from storage.feeds import SourceHealthView


@cli.command("scheduler")
@settings_options("sources.file", "kafka.bootstrap_servers")
def scheduler_command(settings: Settings) -> None:
    """Poll the feeds of the feed file on their intervals and publish new items to
    news.raw, until SIGTERM or Ctrl-C.

    The file is re-read when it changes and on SIGHUP (a malformed edit is reported and
    the running feeds kept). Each feed's health is in the database: `finsent sources`.
    """
    from sources.feeds import load_feeds
    from sources.metrics import SourceMetrics
    from sources.service import SchedulerService
    from storage import migrate
    from streams.metrics import serve_metrics

    if settings.general.log_level != "DEBUG":  # two lines per poll otherwise
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
    path = settings.sources.file
    if path is None:
        given = f"set {env_var('sources', 'file')} or give {option_flag('sources', 'file')}"
        raise UserError(f"no feed file: {given}", exit_code=2)
    feeds = load_feeds(path)  # a malformed file stops here, naming the line
    engine = open_engine(settings)
    current, head = migrate.current_revision(engine), migrate.head_revision()
    if current != head:
        raise UserError(f"database is at revision {current}, not {head}: run `finsent db upgrade`")
    metrics = SourceMetrics()
    if settings.metrics.scheduler_port:  # a taken port fails now, before any poll
        host, port = settings.metrics.host, settings.metrics.scheduler_port
        serve_metrics(metrics.registry, host, port)
        click.echo(f"metrics on http://{host}:{port}/metrics", err=True)
    publisher = open_raw_publisher(settings, client_id="finsent-scheduler")
    stop = stop_on_signals()
    try:
        service = SchedulerService(
            scheduler_config(settings, path), engine, publisher, feeds, stop=stop, metrics=metrics
        )

        def _on_hup(signum: int, frame: FrameType | None) -> None:
            service.reload_requested.set()

        signal.signal(signal.SIGHUP, _on_hup)
        click.echo(
            f"scheduler: {service.summary} from {path} -> {publisher.topic} on "
            f"{settings.bootstrap_servers}; SIGHUP or an edit reloads the file",
            err=True,
        )
        service.serve()
    finally:
        publisher.close()
        engine.dispose()
    click.echo("scheduler stopped", err=True)


def _age(at: datetime | None, now: datetime) -> str:
    if at is None:
        return "never"
    seconds = (now - at).total_seconds()
    if seconds < 0:
        return f"in {-seconds:.0f}s"
    if seconds < 120:
        return f"{seconds:.0f}s ago"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m ago"
    if seconds < 172_800:
        return f"{seconds / 3600:.0f}h ago"
    return at.strftime("%Y-%m-%d %H:%M")


def health_rows(views: list[SourceHealthView], now: datetime) -> list[dict[str, str]]:
    """The table rows of ``finsent sources``."""
    rows = []
    for v in views:
        failing = v.consecutive_failures > 0
        rows.append(
            {
                "feed": v.feed,
                "state": "failing" if failing else ("ok" if v.last_success_at else "new"),
                "last fetch": _age(v.last_fetch_at, now),
                "last success": _age(v.last_success_at, now),
                "http": str(v.last_status or "-"),
                "seen": str(v.items_seen),
                "new": str(v.items_new),
                "dup": str(v.items_duplicate),
                "refused": str(v.items_rejected),
                "failures": str(v.consecutive_failures),
                "next try": _age(v.retry_at, now) if v.retry_at else "-",
                "last error": (v.last_error or "")[:80],
            }
        )
    return rows


def render_table(rows: list[dict[str, str]]) -> str:
    if not rows:
        return ""
    columns = list(rows[0])
    widths = {c: max(len(c), *(len(r[c]) for r in rows)) for c in columns}
    lines = ["  ".join(c.ljust(widths[c]) for c in columns).rstrip()]
    lines += ["  ".join(r[c].ljust(widths[c]) for c in columns).rstrip() for r in rows]
    return "\n".join(lines)


@cli.command("sources")
@settings_options("database.url")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def sources_command(as_json: bool, settings: Settings) -> None:
    """Print each feed's health: last fetch and success, HTTP status, items seen, new
    (first published), dup (of the new: syndicated copies), refused, failures, back-off."""
    from dataclasses import asdict

    from storage import source_health

    engine = open_engine(settings)
    try:
        views = source_health(engine)
    finally:
        engine.dispose()
    if as_json:
        data: list[dict[str, Any]] = [asdict(v) for v in views]
        click.echo(json.dumps(data, default=lambda o: o.isoformat(), indent=2))
        return
    if not views:
        click.echo("no feed has been polled yet (run `finsent scheduler`)")
        return
    click.echo(render_table(health_rows(views, datetime.now(UTC))))
