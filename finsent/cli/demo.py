"""``finsent demo-data``: a replay file of real headlines on a synthetic clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from finsent.cli.app import cli, settings_options
from finsent.datasets import tfns_csv
from finsent.runtime import load_watchlist
from finsent.settings import Settings


def make_demo(
    settings: Settings, csv_path: Path | None, out: Path, hours: float, items: int, seed: int
) -> str:
    """Write the demo file; return a one-paragraph description of it."""
    from sources.demo import build_demo, read_labelled, write_jsonl

    source = csv_path or tfns_csv("valid")
    watchlist = load_watchlist(settings)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=hours)
    plan = build_demo(
        read_labelled(source), watchlist, start=start, hours=hours, items=items, seed=seed
    )
    write_jsonl(plan.items, out)
    return (
        f"wrote {len(plan.items)} items to {out}: real headlines from {source} on a "
        f"synthetic clock over {hours:g} h (the timing is made up; the headlines are not), "
        f"with a planted surge of {plan.surge_items} negative '{plan.surge_topic}' headlines "
        f"between {plan.surge_start:%H:%M} and {plan.surge_end:%H:%M} UTC"
    )


@cli.command("demo-data")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The JSONL file to write (replay it with `finsent replay`).",
)
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Labelled CSV (text,label; 0 = bearish). Default: the validation split of the "
    "set that ships with finsent (real finance headlines).",
)
@click.option(
    "--hours",
    type=click.FloatRange(min=0.1, max=24 * 14),
    default=6.0,
    show_default=True,
    help="Span of the synthetic clock.",
)
@click.option(
    "--items",
    type=click.IntRange(min=10),
    default=1500,
    show_default=True,
    help="Background headlines (the surge comes on top).",
)
@click.option("--seed", type=int, default=7, show_default=True)
@settings_options("pipeline.watchlist")
def demo_data_command(
    out: Path, csv_path: Path | None, hours: float, items: int, seed: int, settings: Settings
) -> None:
    """Build a demo replay file with one planted surge of negative headlines on one topic."""
    click.echo(make_demo(settings, csv_path, out, hours, items, seed))
