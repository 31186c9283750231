"""Feed sources: parse + normalise + dedup throughput, and the near-duplicate check
cost per item with 100k remembered titles, each against the naive way in the same run;
then the worst cases: titles that are all alike, and a 10 MB feed of them.

1. A generated RSS 2.0 feed of ``--entries`` entries (HTML summaries, entities,
   tracking parameters, a share of syndicated copies) goes through what a poll does
   without I/O: feedparser, ``normalise_feed``, then the near-duplicate check of every
   item. Ours: the MinHash/LSH ``NearDupIndex``. Naive: the exact Jaccard similarity of
   each title's shingles against every title seen before (what one writes first).
2. ``--remembered`` titles are loaded into the index; then ``--probes`` titles (half
   edited copies of remembered ones, half new) are checked. Naive: exact Jaccard
   against all remembered titles, on a sample of ``--naive-probes`` of the same probes.
   How often both agree on "duplicate or not" is reported too.

Headlines are drawn from the TFNS set that ships with finsent (its vocabulary), else
from a small built-in word list; everything is seeded.

    python bench/sources.py                             # 5,000 entries, 100k titles
    python bench/sources.py --entries 2000 --remembered 20000 --repeat 1
    python bench/sources.py --only-worst                # alike titles, 10 MB feed
"""

from __future__ import annotations

import argparse
import csv
import io
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from functools import partial
from pathlib import Path
from typing import TypeVar
from xml.sax.saxutils import escape

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.machine import header
from core.titles import normalise_title, shingles
from finsent.datasets import TFNS_DIR
from sources.neardup import Entry, NearDupIndex, Signature, similarity
from sources.normalise import normalise_feed, parse_feed

TFNS = TFNS_DIR  # the set that ships with finsent
FALLBACK_WORDS = [
    "stocks",
    "shares",
    "bank",
    "oil",
    "prices",
    "fed",
    "rates",
    "inflation",
    "earnings",
    "profit",
    "loss",
    "revenue",
    "quarter",
    "guidance",
    "cuts",
    "raises",
    "jobs",
    "market",
    "rally",
    "slump",
    "tariffs",
    "trade",
    "deal",
    "merger",
    "acquisition",
    "bid",
    "bonds",
    "yields",
    "dollar",
    "euro",
    "yen",
    "gold",
    "copper",
    "crypto",
    "bitcoin",
    "chip",
    "maker",
    "retailer",
    "airline",
    "insurer",
    "lender",
    "regulator",
    "probe",
    "fine",
    "lawsuit",
    "recall",
    "approval",
    "launch",
    "forecast",
    "outlook",
]
OUTLETS = ("Reuters", "Bloomberg", "MarketWatch", "CNBC", "FT")
NOW = datetime(2026, 3, 2, 18, 0, tzinfo=UTC)
T = TypeVar("T")


def vocabulary() -> list[str]:
    words: list[str] = []
    for name in ("train.csv", "valid.csv"):
        path = TFNS / name
        if path.is_file():
            with path.open(encoding="utf-8", newline="") as f:
                for row in csv.DictReader(f):
                    words += [w for w in normalise_title(row["text"]).split() if w.isalpha()]
    return words or FALLBACK_WORDS


def headline(rng: random.Random, words: list[str]) -> str:
    return " ".join(rng.choice(words) for _ in range(rng.randint(7, 14))).capitalize()


def edited(rng: random.Random, title: str) -> str:
    """A syndicated copy: another outlet's suffix, case, maybe one word more."""
    words = title.split()
    if rng.random() < 0.5:
        words.insert(rng.randrange(len(words) + 1), rng.choice(("its", "the", "new", "says")))
    text = " ".join(words)
    text = text.title() if rng.random() < 0.5 else text
    return f"{text} - {rng.choice(OUTLETS)}"


def make_feed(n: int, rng: random.Random, words: list[str], copy_share: float = 0.2) -> bytes:
    titles: list[str] = []
    items = []
    for i in range(n):
        if titles and rng.random() < copy_share:
            title = edited(rng, rng.choice(titles))
        else:
            title = headline(rng, words)
        titles.append(title)
        when = NOW - timedelta(minutes=n - i)
        summary = f"<p>{escape(title)} &amp; more: <b>analysts</b> react.</p><script>x()</script>"
        items.append(
            f"<item><title>{escape(title)}</title>"
            f"<link>https://news.example/a/{i}?utm_source=rss&amp;utm_medium=feed#c</link>"
            f"<description>{escape(summary)}</description>"
            f"<pubDate>{format_datetime(when)}</pubDate></item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        "<title>Bench</title><link>https://news.example/</link>"
        f"{''.join(items)}</channel></rss>"
    ).encode()


class NaiveIndex:
    """Exact Jaccard of 5-gram shingles against every remembered title."""

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold
        self.entries: list[tuple[str, frozenset[int]]] = []

    def check(self, item_id: str, title: str) -> str | None:
        s = frozenset(shingles(normalise_title(title)))
        found = None
        for other_id, other in self.entries:
            union = len(s | other)
            if union and len(s & other) / union >= self.threshold:
                found = other_id
                break
        self.entries.append((item_id, s))
        return found


def timed(fn: Callable[[], T]) -> tuple[float, T]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def one_run(body: bytes, threshold: float) -> tuple[dict[str, float], dict[str, int]]:
    """One pass of every stage over ``body``: seconds per stage, copies found."""
    t_parse, parsed = timed(
        lambda: parse_feed(body, url="https://news.example/rss", content_type="application/rss+xml")
    )
    t_norm, out = timed(lambda: normalise_feed(parsed, source="bench", fetched_at=NOW))
    items = out.items
    index = NearDupIndex(threshold=threshold)
    t_lsh, lsh = timed(lambda: [index.check(i.id, i.title, NOW) for i in items])
    naive = NaiveIndex(threshold)
    t_naive, brute = timed(lambda: [naive.check(i.id, i.title) for i in items])
    seconds = {"parse": t_parse, "normalise": t_norm, "lsh": t_lsh, "naive": t_naive}
    copies = {"lsh": sum(r is not None for r in lsh), "naive": sum(r is not None for r in brute)}
    return seconds, copies


def throughput(args: argparse.Namespace, words: list[str]) -> None:
    rng = random.Random(args.seed)
    body = make_feed(args.entries, rng, words)
    print(
        f"\n## parse + normalise + dedup: one feed of {args.entries:,} entries "
        f"({len(body) / 1e6:.1f} MB)\n"
    )
    runs = [one_run(body, args.threshold) for _ in range(args.repeat)]
    med = {k: statistics.median(r[0][k] for r in runs) for k in runs[0][0]}
    dups = runs[-1][1]
    n = args.entries
    ours = med["parse"] + med["normalise"] + med["lsh"]
    theirs = med["parse"] + med["normalise"] + med["naive"]
    print("| stage | median s | entries/s |")
    print("|---|---:|---:|")
    for key, label in (
        ("parse", "feedparser"),
        ("normalise", "normalise (HTML, URL, time, id)"),
        ("lsh", "near-dup: MinHash/LSH index"),
        ("naive", "near-dup: naive exact Jaccard, all pairs"),
    ):
        print(f"| {label} | {med[key]:.3f} | {n / med[key]:,.0f} |")
    print(f"| **whole poll, ours** | {ours:.3f} | **{n / ours:,.0f}** |")
    print(f"| whole poll, naive dedup | {theirs:.3f} | {n / theirs:,.0f} |")
    print(
        f"\nsyndicated copies found: LSH {dups['lsh']}, naive {dups['naive']}; "
        f"whole poll {theirs / ours:.1f}x faster with the index"
    )


def per_item(args: argparse.Namespace, words: list[str]) -> None:
    rng = random.Random(args.seed + 1)
    remembered = [(f"r{i}", headline(rng, words)) for i in range(args.remembered)]
    index = NearDupIndex(threshold=args.threshold, window=timedelta(days=365))

    def fill() -> int:
        for item_id, title in remembered:
            index.remember(item_id, title, NOW, None)
        return len(index)

    t_fill, _ = timed(fill)
    probes = []
    for i in range(args.probes):
        if i % 2 == 0:
            probes.append((f"p{i}", edited(rng, rng.choice(remembered)[1])))
        else:
            probes.append((f"p{i}", headline(rng, words)))
    t_check, found = timed(lambda: [index.check(i, t, NOW) for i, t in probes])
    naive = NaiveIndex(args.threshold)
    naive.entries = [(i, frozenset(shingles(normalise_title(t)))) for i, t in remembered]
    sample = probes[: args.naive_probes]
    t_naive, brute = timed(lambda: [naive.check(i, t) for i, t in sample])
    agree = sum((a is None) == (b is None) for a, b in zip(found, brute, strict=False))
    hits = sum(r is not None for r in found)
    print(f"\n## near-duplicate check with {args.remembered:,} remembered titles\n")
    print("| way | probes | per item | items/s |")
    print("|---|---:|---:|---:|")
    per = t_check / len(probes)
    per_naive = t_naive / len(sample)
    print(f"| MinHash/LSH index | {len(probes):,} | {per * 1e6:,.0f} µs | {1 / per:,.0f} |")
    print(
        f"| naive exact Jaccard against all | {len(sample):,} | {per_naive * 1e3:,.1f} ms "
        f"| {1 / per_naive:,.1f} |"
    )
    print(
        f"\nindex filled in {t_fill:.1f} s ({t_fill / args.remembered * 1e6:,.0f} µs a title); "
        f"{hits} of {len(probes)} probes flagged (half are edited copies); LSH and exact "
        f"agree on {agree} of {len(sample)} sampled probes; "
        f"{per_naive / per:,.0f}x cheaper per item"
    )


def alike_titles(n: int) -> list[tuple[str, str]]:
    """``n`` titles that are all near-duplicates of one another: the worst case."""
    return [
        (f"a{i}", f"Acme Corp shares fall after profit warning, analysts say {i}") for i in range(n)
    ]


class UnboundedIndex(NearDupIndex):
    """The index before the bound: every candidate of every bucket compared, every
    title kept in every bucket (what made alike titles quadratic)."""

    def __init__(self) -> None:
        super().__init__(max_bucket=10**9)

    def _earliest_match(
        self, item_id: str, signature: Signature, keys: list[tuple[int, bytes]]
    ) -> Entry | None:
        best: Entry | None = None
        seen: set[int] = set()
        for key in keys:
            for entry in self._buckets.get(key, ()):
                if id(entry) in seen or entry.id == item_id:
                    continue
                seen.add(id(entry))
                if similarity(signature, entry.signature) >= self.threshold and (
                    best is None or entry.at < best.at
                ):
                    best = entry
        return best


def check_all(index: NearDupIndex, titles: list[tuple[str, str]]) -> list[str | None]:
    return [index.check(item_id, title, NOW) for item_id, title in titles]


def peak_of(fn: Callable[[], T]) -> tuple[float, float, T]:
    """Seconds, peak traced memory (MB) and the result of ``fn``."""
    import tracemalloc

    tracemalloc.start()
    try:
        seconds, out = timed(fn)
        peak = tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()
    return seconds, peak, out


def worst_case(args: argparse.Namespace) -> None:
    """Alike titles through the bounded index and through an unbounded one (every
    candidate compared, every bucket kept: the index before the bound)."""
    print("\n## worst case: titles that are all alike\n")
    print("| titles | bounded index s | unbounded index s | ratio | bounded peak MB |")
    print("|---:|---:|---:|---:|---:|")
    for n in args.alike:
        titles = alike_titles(n)
        t_ours, ours = timed(partial(check_all, NearDupIndex(), titles))
        _, peak, _ = peak_of(partial(check_all, NearDupIndex(), titles))
        if n <= args.unbounded_max:
            t_old, old = timed(partial(check_all, UnboundedIndex(), titles))
            assert ours == old, "the bound changed a verdict"
            cells = f"{t_old:.2f} | {t_old / t_ours:.0f}x"
        else:
            cells = "(skipped) | —"
        print(f"| {n:,} | {t_ours:.2f} | {cells} | {peak:.1f} |")
    rng = random.Random(args.seed + 2)
    entries = int(args.worst_feed_mb * 1e6 / 330)  # about 330 bytes an entry below
    items = []
    for i, (_, title) in enumerate(alike_titles(entries)):
        items.append(
            f"<item><title>{escape(title)}</title><link>https://news.example/a/{i}</link>"
            f"<description>{escape(title)} {rng.random()}</description>"
            f"<pubDate>{format_datetime(NOW)}</pubDate></item>"
        )
    body = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Worst</title>{''.join(items)}</channel></rss>"
    ).encode()

    t_parse, parsed = timed(
        lambda: parse_feed(body, url="https://news.example/rss", content_type="application/rss+xml")
    )
    t_norm, out = timed(lambda: normalise_feed(parsed, source="bench", fetched_at=NOW))
    pairs = [(i.id, i.title) for i in out.items]
    t_dedup, found = timed(partial(check_all, NearDupIndex(), pairs))
    _, peak, _ = peak_of(partial(check_all, NearDupIndex(), pairs))
    print(
        f"\na {len(body) / 1e6:.1f} MB feed of {entries:,} alike entries: feedparser "
        f"{t_parse:.1f} s, normalise {t_norm:.1f} s, near-dup check {t_dedup:.1f} s "
        f"({sum(r is not None for r in found):,} flagged; the index's peak traced memory "
        f"{peak:.0f} MB)"
    )
    huge_summary(args)


def huge_summary(args: argparse.Namespace) -> None:
    """One item whose summary fills the feed cap with escaped HTML, parsed as finsent
    parses it and as feedparser does by default (its HTML sanitiser and relative-URI
    pass re-parse every summary), with the peak of traced memory."""
    import feedparser

    paragraph = escape("<p>Shares of <b>Acme</b> rose &amp; fell.</p> ")
    summary = paragraph * int(args.worst_feed_mb * 0.94e6 / len(paragraph))
    body = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item>'
        "<title>Acme shares rise</title><link>https://news.example/a</link>"
        f"<description>{summary}</description></item></channel></rss>"
    ).encode()

    def ours() -> object:
        parsed = parse_feed(body, url="https://news.example/rss", content_type=None)
        return normalise_feed(parsed, source="bench", fetched_at=NOW)

    def feedparser_defaults() -> object:
        return feedparser.parse(io.BytesIO(body), sanitize_html=True)

    print(f"\n## one item with a {len(body) / 1e6:.1f} MB summary\n")
    print("| parse | seconds | peak traced memory, MB |")
    print("|---|---:|---:|")
    runs = (("finsent (sanitiser off)", ours), ("feedparser defaults", feedparser_defaults))
    for name, fn in runs:
        seconds, _ = timed(fn)
        _, peak, _ = peak_of(fn)
        print(f"| {name} | {seconds:.1f} | {peak:.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=5000)
    parser.add_argument("--remembered", type=int, default=100_000)
    parser.add_argument("--probes", type=int, default=2000)
    parser.add_argument("--naive-probes", type=int, default=40)
    parser.add_argument("--threshold", type=float, default=0.6)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--alike", type=int, nargs="+", default=[1000, 10_000])
    parser.add_argument(
        "--unbounded-max", type=int, default=10_000, help="largest case run unbounded too"
    )
    parser.add_argument("--worst-feed-mb", type=float, default=10.0)
    parser.add_argument("--only-worst", action="store_true", help="only the worst cases")
    args = parser.parse_args()
    print(header())
    if not args.only_worst:
        words = vocabulary()
        throughput(args, words)
        per_item(args, words)
    worst_case(args)


if __name__ == "__main__":
    main()
