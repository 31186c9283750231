"""The novelty check per company at persist time: the prefix-filtered index
(``core.titles.SimilarTitles``) against comparing each new title with every title held.

When a worker stores a batch, every company an article names gets a ``novel`` flag: no
title about the same company stored within 24 hours is 0.5-alike (Jaccard of the
titles' shingles). The titles stored about the company in that window are read once
per batch; then each new title is checked and joins them. For a company in the news
all day (earnings, a recall) that is thousands of titles, under the company's lock.

Naive: one set intersection with every title held (what ``finsent`` did before, and
still does, through ``SimilarTitles(indexed=False)``, for a company with fewer than
``SimilarTitles.INDEX_FROM`` new titles in the batch: the "finsent uses" column).
Index: built from the stored titles, then probed and grown the same way. Both start
from the same shingles (their cost, the same for both, is reported apart) and must give
the same flags; the run says whether they did.

The titles are the TFNS headlines that ship with finsent (``finsent/data/tfns``, real
wording, few of them alike), each led by one company's name, drawn without replacement
and spread over 48 hours; ``--copies`` of the new titles are stored titles with one word
dropped (a syndicated rewording, not news).

    python bench/novelty.py               # 100 to 5,000 stored, 5 to 100 new (make bench-novelty)
    python bench/novelty.py --stored 10000 --new 10,20,40 --repeat 3
"""

from __future__ import annotations

import argparse
import csv
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.machine import header
from core.titles import SimilarTitles, normalise_title, title_shingles
from finsent.datasets import tfns_csv
from storage.articles import NOVELTY_SIMILARITY, NOVELTY_WINDOW

T0 = datetime(2026, 3, 2, tzinfo=UTC)
Held = list[tuple[datetime, set[int]]]


def headlines() -> list[str]:
    """The shipped TFNS texts, both splits, each once."""
    texts: dict[str, None] = {}
    for split in ("train", "valid"):
        with tfns_csv(split).open(newline="", encoding="utf-8") as f:
            texts.update((row["text"], None) for row in csv.DictReader(f))
    return list(texts)


def reworded(title: str, rng: random.Random) -> str:
    words = title.split()
    if len(words) > 3:
        del words[rng.randrange(len(words))]
    return " ".join(words)


Timed = list[tuple[datetime, str]]


def batch(stored_n: int, new_n: int, copies: float, company: str, seed: int) -> tuple[Timed, Timed]:
    """The stored titles (over 48 hours) and the batch's new ones (in its last 24 hours)."""
    rng = random.Random(seed)
    pool = headlines()
    if stored_n + new_n > len(pool):
        raise SystemExit(f"at most {len(pool):,} titles in all (--stored + --new)")
    drawn = [f"{company} {t}" for t in rng.sample(pool, stored_n + new_n)]
    stored_titles, fresh = drawn[:stored_n], drawn[stored_n:]
    new_titles = [
        reworded(rng.choice(stored_titles), rng) if stored_titles and rng.random() < copies else t
        for t in fresh
    ]
    stored = [(T0 + timedelta(hours=rng.uniform(0, 48)), t) for t in stored_titles]
    new = [(T0 + timedelta(hours=rng.uniform(24, 48)), t) for t in new_titles]
    return stored, sorted(new)


def shingled(titles: Timed) -> Held:
    return [(at, title_shingles(normalise_title(t))) for at, t in titles]


def novelty_flags(stored: Held, new: Held, *, indexed: bool) -> list[bool]:
    """Each new title's flag, as ``save_scored_batch`` decides it: checked against the
    titles held, then held itself."""
    titles = SimilarTitles(stored, NOVELTY_SIMILARITY, NOVELTY_WINDOW, indexed=indexed)
    flags = []
    for at, hashes in new:
        flags.append(not titles.has_similar(at, hashes))
        titles.add(at, hashes)
    return flags


def naive_flags(stored: Held, new: Held) -> list[bool]:
    """Every title held compared in full (``SimilarTitles``'s list, the old check)."""
    return novelty_flags(stored, new, indexed=False)


def index_flags(stored: Held, new: Held) -> list[bool]:
    return novelty_flags(stored, new, indexed=True)


def timed(
    check: Callable[[Held, Held], list[bool]], stored: Held, new: Held
) -> tuple[float, list[bool]]:
    start = time.perf_counter()
    flags = check(stored, new)
    return time.perf_counter() - start, flags


def counts(value: str, name: str, parser: argparse.ArgumentParser) -> list[int]:
    try:
        out = [int(s) for s in value.split(",")]
    except ValueError:
        parser.error(f"--{name} takes comma-separated counts, not {value!r}")
    if any(n < 1 for n in out):
        parser.error(f"--{name} takes counts of at least 1, not {value!r}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--stored", default="100,1000,5000", help="titles stored about the company, comma-separated"
    )
    parser.add_argument(
        "--new", default="5,10,20,40,100", help="new titles in the batch, comma-separated"
    )
    parser.add_argument("--copies", type=float, default=0.2, help="share of rewordings")
    parser.add_argument("--company", default="Apple")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    sizes, news = counts(args.stored, "stored", parser), counts(args.new, "new", parser)
    if args.repeat < 1 or not 0 <= args.copies <= 1:
        parser.error("--repeat must be at least 1 and --copies within [0, 1]")

    print(header())
    print(f"- {args.copies:.0%} of the new titles are rewordings; company {args.company!r}")
    print()
    print(
        "| stored | new | shingling the stored, ms | naive, ms | index, ms | naive / index "
        "| finsent uses | not novel | same flags |"
    )
    print("|---:|---:|---:|---:|---:|---:|---|---:|---|")
    for size in sizes:
        for new_n in news:
            stored_titles, new_titles = batch(size, new_n, args.copies, args.company, args.seed)
            start = time.perf_counter()
            stored = shingled(stored_titles)
            shingling = time.perf_counter() - start
            new = shingled(new_titles)
            naive_s: list[float] = []
            index_s: list[float] = []
            same = True
            for _ in range(args.repeat):  # interleaved, so that a noisy moment hits both
                t_naive, naive = timed(naive_flags, stored, new)
                t_index, ours = timed(index_flags, stored, new)
                naive_s.append(t_naive)
                index_s.append(t_index)
                same = same and naive == ours
            naive_ms = 1e3 * statistics.median(naive_s)
            index_ms = 1e3 * statistics.median(index_s)
            uses = "index" if new_n >= SimilarTitles.INDEX_FROM else "list"
            print(
                f"| {size:,} | {new_n} | {1e3 * shingling:.1f} | {naive_ms:.1f} | {index_ms:.1f} "
                f"| {naive_ms / index_ms:.2f} | {uses} | {naive.count(False)} of {len(new)} "
                f"| {'yes' if same else 'NO'} |"
            )


if __name__ == "__main__":
    main()
