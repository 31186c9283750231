"""``finsent demo-data``: a replay file of real headlines on a synthetic clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from finsent.cli.app import cli, settings_options
from finsent.datasets import tfns_csv
from finsent.runtime import load_companies, load_watchlist
from finsent.settings import Settings

#: The languages of the shipped demos: English (real finance headlines) and Chinese
#: (headlines written for the demo).
DEMO_LANGUAGES = ("en", "zh")


def demo_headlines(lang: str) -> tuple[Path, str]:
    """The shipped headlines of the demo in ``lang``, and what they are."""
    from sources.demo import DEMO_ZH_CSV

    if lang == "zh":
        return DEMO_ZH_CSV, "Chinese headlines written for the demo"
    return tfns_csv("valid"), "real headlines"


def make_demo(
    settings: Settings,
    csv_path: Path | None,
    out: Path,
    hours: float,
    items: int,
    seed: int,
    lang: str = "en",
) -> str:
    """Write the demo file; return a one-paragraph description of it."""
    from sources.demo import build_demo, companies_named, read_labelled, write_jsonl

    source, what = (csv_path, "headlines") if csv_path else demo_headlines(lang)
    watchlist = load_watchlist(settings)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=hours)
    plan = build_demo(
        read_labelled(source), watchlist, start=start, hours=hours, items=items, seed=seed
    )
    write_jsonl(plan.items, out)
    companies = companies_named(plan.items, load_companies(settings))
    most = ", ".join(f"{e} {n}" for e, n in companies.most_common(5))
    return (
        f"wrote {len(plan.items)} items to {out}: {what} from {source} on a "
        f"synthetic clock over {hours:g} h (the timing is made up), "
        f"with a planted surge of {plan.surge_items} negative '{plan.surge_topic}' headlines "
        f"between {plan.surge_start:%H:%M} and {plan.surge_end:%H:%M} UTC; "
        + (
            f"{len(companies)} companies named (most: {most}), each a series on the Topic "
            f"page as entity:<id>, with relevance and novelty filters"
            if companies
            else "no headline names a company of the registry"
        )
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
    help="Labelled CSV (text,label; 0 = bearish). Default: the shipped headlines of --lang.",
)
@click.option(
    "--lang",
    type=click.Choice(DEMO_LANGUAGES),
    default="en",
    show_default=True,
    help="en: the validation split of the set that ships with finsent (real finance "
    "headlines); zh: Chinese headlines written for the demo (its surge on oil-energy).",
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
@settings_options("pipeline.watchlist", "pipeline.companies")
def demo_data_command(
    out: Path,
    csv_path: Path | None,
    lang: str,
    hours: float,
    items: int,
    seed: int,
    settings: Settings,
) -> None:
    """Build a demo replay file with one planted surge of negative headlines on one topic."""
    click.echo(make_demo(settings, csv_path, out, hours, items, seed, lang))
