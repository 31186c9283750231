"""``finsent up``: the embedded all-in-one for a laptop, started by one command."""

from __future__ import annotations

import signal
import threading
from contextlib import ExitStack
from types import FrameType

import click

from finsent.cli.app import cli, setting_option, settings_from
from finsent.runtime import open_engine


@cli.command("up")
@setting_option("--database-url", concern="database", field="url")
@setting_option("--broker-port", concern="broker", field="port", type=int)
def up_command(database_url: str | None, broker_port: int | None) -> None:
    """Run finsent on its embedded defaults until Ctrl-C.

    Migrates the database (a SQLite file under the data directory unless
    FINSENT_DATABASE_URL is set) and starts the embedded Kafka-protocol broker (unless
    FINSENT_KAFKA_BOOTSTRAP_SERVERS names an existing Kafka).
    """
    from storage import migrate
    from storage.db import describe

    settings = settings_from({"database": {"url": database_url}, "broker": {"port": broker_port}})
    stop = threading.Event()

    def _on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _on_signal)

    engine = open_engine(settings)
    migrate.upgrade(engine)
    click.echo(f"database: {describe(engine.url)} at revision {migrate.current_revision(engine)}")
    with ExitStack() as stack:
        if settings.uses_embedded_broker:
            from streams.embedded_broker import EmbeddedBroker

            broker = stack.enter_context(
                EmbeddedBroker(
                    host=settings.broker.host,
                    port=settings.broker.port,
                    startup_timeout=settings.broker.startup_timeout,
                )
            )
            click.echo(f"kafka: embedded broker at {broker.bootstrap_servers} (memory only)")
        else:
            click.echo(f"kafka: external bootstrap {settings.bootstrap_servers}")
        click.echo(
            "finsent is up. Still to come in later releases: the classifier worker, the feed "
            "scheduler and the dashboard. Ctrl-C stops everything."
        )
        while not stop.wait(0.5):
            pass
    engine.dispose()
    click.echo("finsent stopped")
