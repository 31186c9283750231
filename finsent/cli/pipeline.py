"""``finsent worker``, ``finsent publish`` and ``finsent replay``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from finsent.cli.app import UserError, cli, settings_options
from finsent.settings import Settings

if TYPE_CHECKING:
    from streams.publish import Publisher
    from streams.records import NewsItem


@cli.command("worker")
@settings_options(
    "pipeline.batch_size",
    "pipeline.max_wait",
    "pipeline.concurrency",
    "kafka.partitions",
    "pipeline.watchlist",
    "kafka.bootstrap_servers",
)
def worker_command(settings: Settings) -> None:
    """Run the Faust worker: classify news.raw, store news.scored, until SIGTERM.

    Several workers with the same group share the partitions; a worker that dies is
    replaced by the others after the session timeout.
    """
    from finsent.runtime import (
        check_worker_inputs,
        open_alerting,
        open_engine,
        open_pipeline,
        worker_config,
    )
    from streams.metrics import PipelineMetrics, serve_metrics
    from streams.worker import ensure_worker_topics, run_worker

    config = worker_config(settings)
    metrics = PipelineMetrics()
    if settings.metrics.worker_port:  # before the model loads: a taken port fails at once
        host, port = settings.metrics.host, settings.metrics.worker_port
        serve_metrics(metrics.registry, host, port)
        click.echo(f"metrics on http://{host}:{port}/metrics", err=True)
    engine = open_engine(settings)  # one pool for the writer, the counters and alerting
    alerting = open_alerting(settings, engine, metrics)  # a bad rules file fails at once
    inputs = check_worker_inputs(settings)  # a bad watchlist, companies file or model: at once
    ensure_worker_topics(config)  # before loading the model: so does an unreachable broker
    pipeline = open_pipeline(settings, engine, inputs, metrics)
    metrics.ready.set(1)  # what the compose health check waits for
    click.echo(
        f"worker {config.app_id} on {config.bootstrap_servers}: {config.topics.raw} -> "
        f"{config.topics.scored} -> database; batches of {config.batch_size} within "
        f"{config.max_wait}s",
        err=True,
    )
    run_worker(config, pipeline, loglevel=settings.general.log_level, alerting=alerting)


#: How many bad lines a file's report shows in full.
SHOWN_BAD_LINES = 5

FILE_FORMAT_HELP = """\
CSV needs a header with title (or text/headline); optional columns: id, source, url,
body, published_at, lang. JSONL has one JSON object per line with the same fields. Rows
without an id get the stable id (sha256 of the URL, or of source and title).

published_at may be ISO 8601 (with or without a zone), RFC 2822 (Tue, 01 Dec 2026
08:00:00 GMT), dd/mm/yyyy or yyyy-mm-dd with an optional HH:MM[:SS], or Unix epoch
seconds. A time without a zone is UTC. Dates with slashes are read day first: 01/02/2026
is 1 February, and 12/31/2026 is refused.

A line that cannot be read or used (malformed CSV or JSON, no title, a bad time) is
reported with its line number and stops the command before anything is sent (exit 1);
with --skip-bad-lines the good items are sent and the bad lines counted and named."""

skip_bad_lines_option = click.option(
    "--skip-bad-lines",
    is_flag=True,
    help="Send the good items of a file that has bad lines, reporting how many were "
    "skipped and the first line numbers (without it, a bad line stops the command).",
)


def _load(path: Path, source: str | None, skip_bad_lines: bool) -> list[NewsItem]:
    from streams.publish import describe_bad_lines, prepare, read_rows

    prepared = prepare(read_rows(path), default_source=source or path.stem)
    bad, items = prepared.bad, prepared.items
    if bad:
        verb = "skipped" if skip_bad_lines else "bad"
        for line in bad[:SHOWN_BAD_LINES]:
            click.echo(f"{verb} {path}: {line}", err=True)
        summary = describe_bad_lines(bad, SHOWN_BAD_LINES)
        if not skip_bad_lines:
            good = f"the {len(items)} good items" if items else "the rest"
            raise UserError(
                f"{path}: {summary}; nothing was sent: fix them, or pass --skip-bad-lines "
                f"to send {good} without them"
            )
        click.echo(f"skipped {summary} of {path}", err=True)
    if not items:
        raise UserError(f"{path}: no valid news items to publish")
    return items


def _send(settings: Settings, total: int, verb: str, send: Callable[[Publisher], None]) -> None:
    """Open a producer, let ``send`` use it, wait for every acknowledgement, report."""
    from finsent.runtime import open_raw_publisher

    publisher = open_raw_publisher(settings, client_id="finsent-publish")
    try:
        send(publisher)
        sent = publisher.flush()
    finally:
        publisher.close()
    click.echo(f"{verb} {sent} of {total} items to {publisher.topic}")
    missed = publisher.unacknowledged
    if missed:
        shown = ", ".join(missed[:5]) + (f" and {len(missed) - 5} more" if len(missed) > 5 else "")
        raise UserError(
            f"{len(missed)} of {total} items were not acknowledged by the broker (ids {shown}); "
            "send the file again: the items that did arrive are stored once"
        )


@cli.command("publish")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--source", help="Source name for rows without one (default: the file name).")
@skip_bad_lines_option
@settings_options("kafka.bootstrap_servers")
def publish_command(
    file: Path, source: str | None, skip_bad_lines: bool, settings: Settings
) -> None:
    from tqdm import tqdm

    items = _load(file, source, skip_bad_lines)

    def send_all(publisher: Publisher) -> None:
        for item in tqdm(items, desc="publish", unit="item", disable=None):
            publisher.send(item)

    _send(settings, len(items), "published", send_all)


publish_command.help = (
    "Send the news items of a CSV or JSONL FILE to news.raw (acks=all, keyed by id).\n\n"
    + FILE_FORMAT_HELP
)


@cli.command("replay")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--speed",
    type=click.FloatRange(min=0.001),
    default=1.0,
    show_default=True,
    help="Time compression: 60 replays an hour in a minute.",
)
@click.option(
    "--keep-time/--rebase",
    default=False,
    show_default=True,
    help="Keep the items' own publication times, or move them to start now.",
)
@click.option("--source", help="Source name for rows without one (default: the file name).")
@skip_bad_lines_option
@settings_options("kafka.bootstrap_servers")
def replay_command(
    file: Path,
    speed: float,
    keep_time: bool,
    source: str | None,
    skip_bad_lines: bool,
    settings: Settings,
) -> None:
    from tqdm import tqdm

    from streams.publish import rebase, replay

    items = sorted(_load(file, source, skip_bad_lines), key=lambda i: i.published_at)
    span = (items[-1].published_at - items[0].published_at).total_seconds() / speed
    # Re-based items carry the times at which they are actually sent.
    paced, pace = (items, speed) if keep_time else (rebase(items, datetime.now(UTC), speed), 1.0)
    click.echo(f"replaying {len(paced)} items over {span:.0f}s (speed {speed:g}x)", err=True)

    def send_paced(publisher: Publisher) -> None:
        with tqdm(total=len(paced), desc="replay", unit="item", disable=None) as bar:
            replay(paced, publisher.send, speed=pace, on_sent=lambda n: bar.update(1))

    _send(settings, len(paced), "replayed", send_paced)


replay_command.help = (
    "Send the items of FILE to news.raw with their relative timing, sped up by --speed.\n\n"
    + FILE_FORMAT_HELP
)
