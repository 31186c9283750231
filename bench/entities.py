"""Company entities in headlines: precision and recall on a hand-labelled set, and the
resolver's speed against the naive way, in the same run.

The set is ``bench/data/entity_headlines.csv`` (columns ``text,entities``; entities a
``;``-separated list of registry ids, empty when none): real headlines from the shipped
TFNS data, labelled by hand (``bench/data/entity_headlines.md`` says how). Every headline
is resolved with the shipped registry (``entities.registry.load_registry``); precision,
recall and F1 are micro-averaged over (headline, entity) pairs, and every miss and
false positive is listed.

Speed: headlines a second over the whole set, the median of ``--runs`` runs, for
``entities.resolve.resolve`` and for the naive way: one compiled regular expression per
entity name (every alias, ambiguous and generic name, on word boundaries,
case-sensitive) searched in every headline. The naive way's precision and recall are
reported too: what the resolver's rules (tickers, ambiguity, blocked phrases) change.

    python bench/entities.py                 # 5 runs
    python bench/entities.py --runs 3 --quiet
"""

from __future__ import annotations

import argparse
import csv
import re
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.machine import header
from entities.registry import Registry, load_registry
from entities.resolve import matcher, resolve

LABELLED = Path(__file__).resolve().parent / "data" / "entity_headlines.csv"


@dataclass(frozen=True, slots=True)
class Labelled:
    text: str
    entities: frozenset[str]


@dataclass(frozen=True, slots=True)
class Score:
    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def read_labelled(path: Path = LABELLED) -> list[Labelled]:
    with path.open(encoding="utf-8", newline="") as f:
        return [
            Labelled(row["text"], frozenset(e for e in row["entities"].split(";") if e))
            for row in csv.DictReader(f)
        ]


def score(rows: Sequence[Labelled], found: Sequence[frozenset[str]]) -> Score:
    tp = sum(len(r.entities & f) for r, f in zip(rows, found, strict=True))
    fp = sum(len(f - r.entities) for r, f in zip(rows, found, strict=True))
    fn = sum(len(r.entities - f) for r, f in zip(rows, found, strict=True))
    return Score(tp, fp, fn)


def ours(registry: Registry) -> Callable[[str], frozenset[str]]:
    return lambda text: frozenset(m.entity_id for m in resolve(registry, text))


def naive(registry: Registry) -> Callable[[str], frozenset[str]]:
    """One regular expression per name of every entity, each searched in the text."""
    patterns = [
        (re.compile(r"(?<!\w)" + re.escape(name) + r"(?!\w)"), e.id)
        for e in registry
        for name in sorted(e.all_names)
    ]

    def find(text: str) -> frozenset[str]:
        return frozenset(entity_id for p, entity_id in patterns if p.search(text))

    return find


def per_second(find: Callable[[str], frozenset[str]], texts: Sequence[str], runs: int) -> float:
    """Headlines a second: the median of ``runs`` passes over ``texts``."""
    rates = []
    for _ in range(runs):
        start = time.perf_counter()
        for text in texts:
            find(text)
        rates.append(len(texts) / (time.perf_counter() - start))
    return statistics.median(rates)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--quiet", action="store_true", help="no list of misses")
    args = parser.parse_args(argv)
    print(header())

    start = time.perf_counter()
    registry = load_registry()
    loaded = time.perf_counter() - start
    start = time.perf_counter()
    m = matcher(registry)
    built = time.perf_counter() - start
    rows = read_labelled()
    texts = [r.text for r in rows]
    names = sum(len(e.all_names) for e in registry)
    print(
        f"- registry: {len(registry):,} entities, {names:,} names "
        f"({sum(len(e.ambiguous) for e in registry)} ambiguous, "
        f"{sum(len(e.generic) for e in registry)} generic), "
        f"{len(registry.not_names)} phrases that are never a company, "
        f"{len(m.conflicts)} names two entities claim (left out); "
        f"loaded in {loaded:.2f} s, matcher built in {built * 1000:.0f} ms"
    )
    print(
        f"- labelled set: {len(rows)} headlines, {sum(bool(r.entities) for r in rows)} with "
        f"a registry company, {sum(len(r.entities) for r in rows)} (headline, entity) pairs"
    )

    finders = {"entities.resolve": ours(registry), "naive (a regex per name)": naive(registry)}
    found = {name: [find(t) for t in texts] for name, find in finders.items()}
    print("\n## precision and recall over (headline, entity) pairs\n")
    print("| method | TP | FP | FN | precision | recall | F1 |")
    print("|---|---|---|---|---|---|---|")
    for name, got in found.items():
        s = score(rows, got)
        print(
            f"| {name} | {s.tp} | {s.fp} | {s.fn} | {s.precision:.3f} | {s.recall:.3f} "
            f"| {s.f1:.3f} |"
        )

    print(f"\n## speed: headlines a second, median of {args.runs} runs over the set\n")
    print("| method | headlines/s | µs per headline |")
    print("|---|---|---|")
    rates = {name: per_second(find, texts, args.runs) for name, find in finders.items()}
    for name, rate in rates.items():
        print(f"| {name} | {rate:,.0f} | {1e6 / rate:,.1f} |")
    ratio = rates["entities.resolve"] / rates["naive (a regex per name)"]
    print(f"\nentities.resolve is {ratio:,.0f}x the naive way.")

    if args.quiet:
        return
    got = found["entities.resolve"]
    print("\n## false positives (found, not labelled)\n")
    for r, f in zip(rows, got, strict=True):
        for entity_id in sorted(f - r.entities):
            print(f"- {entity_id}: {r.text}")
    print("\n## misses (labelled, not found)\n")
    for r, f in zip(rows, got, strict=True):
        for entity_id in sorted(r.entities - f):
            print(f"- {entity_id} ({registry[entity_id].name}): {r.text}")


if __name__ == "__main__":
    main()
