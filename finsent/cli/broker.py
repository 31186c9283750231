"""``finsent broker``: run the embedded Kafka-protocol broker in the foreground."""

from __future__ import annotations

import click

from finsent.cli.app import cli, setting_option, settings_from, stop_on_signals


@cli.command("broker")
@setting_option("--port", concern="broker", field="port", type=int)
@setting_option("--host", concern="broker", field="host")
@setting_option("--startup-timeout", concern="broker", field="startup_timeout", type=float)
def broker_command(port: int | None, host: str | None, startup_timeout: float | None) -> None:
    """Run the embedded broker (memory only) until Ctrl-C or SIGTERM.

    Prints the bootstrap address once the broker answers a metadata request. Stopping it
    forgets every topic, record and committed offset.
    """
    from streams.embedded_broker import EmbeddedBroker

    settings = settings_from(
        {"broker": {"port": port, "host": host, "startup_timeout": startup_timeout}}
    )
    stop = stop_on_signals()
    broker = EmbeddedBroker(
        host=settings.broker.host,
        port=settings.broker.port,
        startup_timeout=settings.broker.startup_timeout,
    )
    with broker:
        click.echo(f"bootstrap servers: {broker.bootstrap_servers}", nl=True)
        click.echo(f"broker log: {broker.log_path}  (Ctrl-C stops it; memory only)")
        while not stop.wait(0.5):
            if not broker.running:
                raise click.ClickException(f"the broker exited unexpectedly; see {broker.log_path}")
    click.echo("broker stopped")
