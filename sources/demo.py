"""A demo replay file: real labelled headlines on a synthetic clock, with one planted
surge of negative news on one topic; the companies its headlines name get series of
their own in the worker. Pure functions; the CLI writes the file."""

from __future__ import annotations

import csv
import json
import random
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from core.errors import ConfigFileError
from entities.registry import Registry
from entities.resolve import resolve
from streams.tagging import Watchlist, tag

OUTLETS = ("demo-wire", "demo-markets", "demo-business", "demo-finance")
#: The Chinese demo's headlines: written for it by hand (``data/demo_zh.md``), its
#: planted surge on oil-energy.
DEMO_ZH_CSV = Path(__file__).resolve().parent / "data" / "demo_zh.csv"


@dataclass(frozen=True, slots=True)
class LabelledHeadline:
    text: str
    negative: bool


@dataclass(frozen=True, slots=True)
class DemoPlan:
    items: list[dict[str, str]]
    surge_topic: str
    surge_start: datetime
    surge_end: datetime
    surge_items: int


def read_labelled(path: Path, negative_label: str = "0") -> list[LabelledHeadline]:
    """Headlines of a ``text,label`` CSV; ``negative_label`` marks the bearish ones."""
    try:
        with path.open(encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f)
            if not reader.fieldnames or not {"text", "label"} <= set(reader.fieldnames):
                raise ConfigFileError(f"{path}: expected a CSV with columns text,label")
            rows = [
                LabelledHeadline(row["text"].strip(), row["label"].strip() == negative_label)
                for row in reader
                if row.get("text") and row["text"].strip()
            ]
    except OSError as e:
        raise ConfigFileError(f"{path}: cannot read: {e.strerror or e}") from None
    except UnicodeDecodeError as e:
        raise ConfigFileError(f"{path}: not UTF-8 (byte {e.start})") from None
    if not rows:
        raise ConfigFileError(f"{path}: no headlines")
    return rows


def pick_surge_topic(headlines: list[LabelledHeadline], watchlist: Watchlist) -> str:
    """The watched topic (not the market-wide one) with the most negative headlines."""
    counts: Counter[str] = Counter()
    for h in headlines:
        if h.negative:
            counts.update(t for t in tag(watchlist, h.text).topics if t != watchlist.market_topic)
    if not counts:
        raise ConfigFileError("no negative headline matches a watched topic: nothing to plant")
    return counts.most_common(1)[0][0]


def build_demo(
    headlines: list[LabelledHeadline],
    watchlist: Watchlist,
    *,
    start: datetime,
    hours: float = 6.0,
    items: int = 1500,
    surge_at: float = 0.6,
    surge_minutes: float = 30.0,
    seed: int = 7,
) -> DemoPlan:
    """``items`` background headlines spread at random over ``hours`` from ``start``,
    plus every negative headline of the surge topic packed into ``surge_minutes`` at
    ``surge_at`` of the span. Each headline is used once."""
    rng = random.Random(seed)  # noqa: S311 - the timing of a demo, not a secret
    topic = pick_surge_topic(headlines, watchlist)
    surge = [h for h in headlines if h.negative and topic in tag(watchlist, h.text).topics]
    rest = [h for h in headlines if h not in surge]
    rng.shuffle(rest)
    background = rest[:items]
    span = timedelta(hours=hours)
    surge_start = start + span * surge_at
    surge_end = surge_start + timedelta(minutes=surge_minutes)
    timed = [(start + span * rng.random(), h) for h in background]
    timed += [(surge_start + (surge_end - surge_start) * rng.random(), h) for h in surge]
    timed.sort(key=lambda pair: pair[0])
    out = [
        {
            "title": h.text,
            "source": OUTLETS[n % len(OUTLETS)],
            # the start in the link: each demo is new news, even in a database that
            # already holds an earlier one
            "url": f"https://demo.finsent.invalid/story/{n}?run={start:%Y%m%dT%H%M%S}",
            "published_at": at.astimezone(UTC).isoformat(),
        }
        for n, (at, h) in enumerate(timed)
    ]
    return DemoPlan(out, topic, surge_start, surge_end, len(surge))


def write_jsonl(items: list[dict[str, str]], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for item in items:
            f.write(json.dumps(item, ensure_ascii=False) + "\n")


def companies_named(items: list[dict[str, str]], registry: Registry) -> Counter[str]:
    """How many of the demo's headlines name each registry company: the companies the
    worker will keep a series for (``entity:<id>``)."""
    return Counter(m.entity_id for item in items for m in resolve(registry, item["title"]))
