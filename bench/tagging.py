"""Topic tagging speed: µs per headline with the default watchlist, on the 2,388 English
validation headlines that ship with finsent and on Chinese headlines written for this
benchmark (``bench/data/zh_headlines.txt``); median of ``--runs`` passes over each set.

``--before FILE`` also loads another version of ``streams/tagging.py`` from a path (a
copy of the module taken before a change) and times it in the same run, on the same
headlines, with its own default watchlist (the ``data/watchlist.yaml`` beside that file
when there is one, else today's), then prints after/before and how many headlines both
versions tag alike.

    python bench/tagging.py
    cp streams/tagging.py /tmp/tagging_before.py        # before changing it
    mkdir -p /tmp/data && cp streams/data/watchlist.yaml /tmp/data/
    python bench/tagging.py --before /tmp/tagging_before.py
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import statistics
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.machine import header
from finsent.datasets import tfns_csv
from streams import tagging

ZH_HEADLINES = Path(__file__).resolve().parent / "data" / "zh_headlines.txt"


def english() -> list[str]:
    with tfns_csv("valid").open(encoding="utf-8", newline="") as f:
        return [row["text"] for row in csv.DictReader(f)]


def chinese() -> list[str]:
    """The non-empty, non-comment lines of the Chinese headline file."""
    lines = ZH_HEADLINES.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def load_module(path: Path) -> ModuleType:
    """A tagging module from a file, under its own name (it imports only finsent's core)."""
    spec = importlib.util.spec_from_file_location("tagging_before", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"{path}: not a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def watchlist_file(module: ModuleType) -> Path:
    default = Path(module.DEFAULT_WATCHLIST)
    return default if default.is_file() else tagging.DEFAULT_WATCHLIST


def per_headline(module: ModuleType, watchlist: Any, texts: list[str], runs: int) -> float:
    """Median µs per headline of ``runs`` passes of ``module.tag`` over ``texts``."""
    tag = module.tag
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        for text in texts:
            tag(watchlist, text)
        times.append(time.perf_counter() - start)
    return statistics.median(times) / len(texts) * 1e6


def tags(module: ModuleType, watchlist: Any, text: str) -> tuple[tuple[str, ...], ...]:
    result = module.tag(watchlist, text)
    return result.topics, result.tickers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--before", type=Path, help="another tagging.py to time alongside")
    args = parser.parse_args()
    print(header())
    sets = {"English (TFNS valid)": english(), "Chinese (bench/data)": chinese()}
    versions = {"after": tagging}
    if args.before is not None:
        versions = {"before": load_module(args.before), **versions}
    watchlists = {}
    for name, module in versions.items():
        path = watchlist_file(module)
        watchlists[name] = module.load_watchlist(path)
        print(f"- {name}: {getattr(module, '__file__', module)} with {path}")
    print(f"\n## µs per headline, median of {args.runs} runs\n")
    print(
        f"| headlines | n | {' | '.join(versions)} |" + (" after/before |" if args.before else "")
    )
    print("|---|---:|" + "---:|" * (len(versions) + bool(args.before)))
    for label, texts in sets.items():
        us = {n: per_headline(m, watchlists[n], texts, args.runs) for n, m in versions.items()}
        cells = " | ".join(f"{v:.1f}" for v in us.values())
        ratio = f" {us['after'] / us['before']:.2f} |" if args.before else ""
        print(f"| {label} | {len(texts):,} | {cells} |{ratio}")
    if args.before is not None:
        for label, texts in sets.items():
            alike = sum(
                tags(versions["before"], watchlists["before"], t)
                == tags(tagging, watchlists["after"], t)
                for t in texts
            )
            print(f"\n{label}: both versions tag {alike:,} of {len(texts):,} headlines alike")


if __name__ == "__main__":
    main()
