"""``finsent broker``: run the local broker (embedded or Apache Kafka) in the foreground."""

from __future__ import annotations

import click

from finsent.cli.app import cli, settings_options, stop_on_signals
from finsent.settings import Settings


@cli.command("broker")
@settings_options("broker.kind", "broker.port", "broker.host", "broker.startup_timeout")
def broker_command(settings: Settings) -> None:
    """Run the local broker until Ctrl-C or SIGTERM.

    kafka (the default): Apache Kafka from its Maven Central jars (downloaded once,
    checked against pinned digests; Java 17+), its log kept under <data dir>/kafka, so a
    restart keeps every topic, record and committed offset. embedded: a Kafka-protocol
    broker in memory that starts in a second; stopping it forgets everything. Prints the
    bootstrap address once the broker answers and finsent's topics exist, with
    FINSENT_KAFKA_PARTITIONS partitions each (a restarted embedded broker would otherwise
    create them with its own default of 4 at the first client's request).
    """
    from finsent.runtime import running_local_broker

    stop = stop_on_signals()
    with running_local_broker(settings) as broker:
        click.echo(f"bootstrap servers: {broker.bootstrap_servers}")
        click.echo(f"{broker.kind_name}, {broker.persistence()}")
        partitions = settings.kafka.partitions
        click.echo(f"finsent's topics have {partitions} partitions each (FINSENT_KAFKA_PARTITIONS)")
        if broker.forgets_on_stop:
            click.echo("stopping it forgets every topic, record and committed offset")
        click.echo(f"broker log: {broker.log_path}  (Ctrl-C stops it)")
        while not stop.wait(0.5):
            if not broker.running:
                raise click.ClickException(f"the broker exited unexpectedly; see {broker.log_path}")
    click.echo("broker stopped")
