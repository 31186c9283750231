"""False alarms of the alert rules on calm news, and whether they still catch a surge.

A synthetic day per seed: ``--topics`` topics, each with a constant Poisson rate of
``--rate`` items a minute and random sentiment (negative/neutral/positive with fixed
probabilities; polarity drawn around each label). The rules are evaluated every minute
of the 24 hours with the same pure round the worker runs (``evaluate_round``), over
closed 1-minute buckets, exactly as ``evaluate_once`` reads them from the database.
Every firing on that calm series is a false alarm.

The same day with one planted surge (``--surge`` extra negative items on one topic
within 30 minutes at hour 18) says whether a setting still detects what it is for,
and how many minutes after the surge began it fired.

Settings compared in the same run: the shipped defaults, looser thresholds, no
``for`` duration, and the naive rule (negative share above 1.5x the baseline share
with at least 5 items; no test, no hysteresis, no ``for``).

    python bench/alerts.py                  # 3 seeds, 5 topics, 2 items/min each
    python bench/alerts.py --seeds 1 --topics 3
"""

from __future__ import annotations

import argparse
import bisect
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from alerts.config import RuleSet, RuleSpec, load_rules
from alerts.evaluation import closed_until, evaluate_round
from alerts.lifecycle import AlertState
from bench.machine import header
from storage.articles import SeriesPoint

START = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)
LABEL_P = (0.2, 0.5, 0.3)  # negative, neutral, positive


def poisson(rng: random.Random, lam: float) -> int:
    """Knuth's method; fine for the small rates of one minute."""
    limit, k, p = pow(2.718281828459045, -lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def polarity(rng: random.Random, label: int) -> float:
    if label == 0:
        return -rng.uniform(0.4, 1.0)
    if label == 2:
        return rng.uniform(0.4, 1.0)
    return rng.uniform(-0.3, 0.3)


def calm_day(seed: int, topics: int, rate: float) -> dict[str, list[SeriesPoint]]:
    rng = random.Random(seed)  # synthetic data, not a secret
    out: dict[str, list[SeriesPoint]] = {}
    for t in range(topics):
        name = f"topic-{t}"
        points = []
        for minute in range(24 * 60):
            counts, pol = [0, 0, 0], 0.0
            for _ in range(poisson(rng, rate)):
                label = rng.choices((0, 1, 2), LABEL_P)[0]
                counts[label] += 1
                pol += polarity(rng, label)
            points.append(
                SeriesPoint(
                    topic=name,
                    bucket_start=START + minute * MIN,
                    n_negative=counts[0],
                    n_neutral=counts[1],
                    n_positive=counts[2],
                    polarity_sum=pol,
                )
            )
        out[name] = points
    return out


def plant(day: dict[str, list[SeriesPoint]], seed: int, extra: int) -> datetime:
    """``extra`` negative items on topic-0 within 30 minutes from hour 18."""
    rng = random.Random(seed + 1000)  # synthetic data, not a secret
    at = START + timedelta(hours=18)
    points = day["topic-0"]
    for _ in range(extra):
        i = 18 * 60 + rng.randrange(30)
        p = points[i]
        points[i] = replace(
            p, n_negative=p.n_negative + 1, polarity_sum=p.polarity_sum + polarity(rng, 0)
        )
    return at


@dataclass
class Run:
    firings: list[tuple[str, str, datetime]]
    seconds_per_round: float


def run_rules(ruleset: RuleSet, day: dict[str, list[SeriesPoint]], settle: timedelta) -> Run:
    span = ruleset.longest_span + MIN
    starts = {t: [p.bucket_start for p in pts] for t, pts in day.items()}
    states: dict[str, AlertState] = {}
    firings: list[tuple[str, str, datetime]] = []
    clock = time.perf_counter()
    rounds = 0
    now = START + MIN + timedelta(seconds=40)
    while now < START + timedelta(hours=24):
        as_of = closed_until(now, settle)
        window = {}
        for topic, pts in day.items():
            lo = bisect.bisect_left(starts[topic], as_of - span)
            hi = bisect.bisect_left(starts[topic], as_of)
            window[topic] = pts[lo:hi]
        result = evaluate_round(ruleset, states, window, now=now, as_of=as_of, observed_since=START)
        states = result.states
        firings += [(t.rule, t.topic, t.at) for t, _ in result.transitions if t.status == "firing"]
        now += MIN
        rounds += 1
    return Run(firings, (time.perf_counter() - clock) / rounds)


def naive(day: dict[str, list[SeriesPoint]]) -> list[tuple[str, str, datetime]]:
    """Share above 1.5x baseline with >= 5 items: fires on every off-to-on flip."""
    firings = []
    for topic, pts in day.items():
        on = False
        for i in range(6 * 60 + 30, len(pts)):
            win, base = pts[i - 30 : i], pts[i - 390 : i - 30]
            n = sum(p.n_negative + p.n_neutral + p.n_positive for p in win)
            nb = sum(p.n_negative + p.n_neutral + p.n_positive for p in base)
            share = sum(p.n_negative for p in win) / n if n else 0.0
            base_share = sum(p.n_negative for p in base) / nb if nb else 0.0
            now_on = n >= 5 and share > 1.5 * base_share
            if now_on and not on:
                firings.append(("naive", topic, pts[i].bucket_start))
            on = now_on
    return firings


def settings(defaults: RuleSet) -> dict[str, RuleSet]:
    def tweak(**changes: object) -> Callable[[RuleSpec], RuleSpec]:
        return lambda spec: replace(spec, rule=replace(spec.rule, **changes))  # type: ignore[arg-type]

    def each(f: Callable[[RuleSpec], RuleSpec]) -> RuleSet:
        return RuleSet(tuple(f(s) for s in defaults.rules))

    looser = {
        "negative_surge": {"enter": 3.0, "exit": 1.5},
        "volume_spike": {"enter": 4.0, "exit": 2.0},
        "polarity_drop": {"enter": 0.3, "exit": 0.15},
    }
    loosest = {
        "negative_surge": {"enter": 2.0, "exit": 1.0, "min_share": 0.0},
        "volume_spike": {"enter": 2.0, "exit": 1.0},
        "polarity_drop": {"enter": 0.15, "exit": 0.05},
    }
    return {
        "defaults (shipped rules.yaml)": defaults,
        "looser: z 3, -log10 p 4, drop 0.3": each(lambda s: tweak(**looser[s.rule.name])(s)),
        "loosest: z 2, -log10 p 2, drop 0.15": each(lambda s: tweak(**loosest[s.rule.name])(s)),
        "defaults without `for`": each(tweak(hold=timedelta(0))),
        "loosest without `for`": each(
            lambda s: tweak(hold=timedelta(0), **loosest[s.rule.name])(s)
        ),
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--topics", type=int, default=5)
    parser.add_argument("--rate", type=float, default=2.0, help="items a minute per topic")
    parser.add_argument("--surge", type=int, default=40, help="planted negative items")
    args = parser.parse_args(argv)
    settle = timedelta(seconds=30)
    print(header())
    print(
        f"- data: {args.seeds} synthetic days x {args.topics} topics x {args.rate:g} items/min "
        f"(label p = {LABEL_P}); surge: +{args.surge} negative on one topic in 30 min"
    )
    rows = []
    for name, ruleset in settings(load_rules()).items():
        false_alarms, detected, delays, per_round = 0, 0, [], []
        by_rule: dict[str, int] = {}
        for seed in range(args.seeds):
            calm = run_rules(ruleset, calm_day(seed, args.topics, args.rate), settle)
            false_alarms += len(calm.firings)
            for rule, _, _ in calm.firings:
                by_rule[rule] = by_rule.get(rule, 0) + 1
            per_round.append(calm.seconds_per_round)
            day = calm_day(seed, args.topics, args.rate)
            surge_at = plant(day, seed, args.surge)
            hits = [
                at
                for rule, topic, at in run_rules(ruleset, day, settle).firings
                if topic == "topic-0" and surge_at <= at <= surge_at + timedelta(hours=1)
            ]
            if hits:
                detected += 1
                delays.append((hits[0] - surge_at).total_seconds() / 60)
        rows.append((name, false_alarms, by_rule, detected, delays, statistics.median(per_round)))
    naive_false = naive_hits = 0
    naive_delays: list[float] = []
    for seed in range(args.seeds):
        naive_false += len(naive(calm_day(seed, args.topics, args.rate)))
        day = calm_day(seed, args.topics, args.rate)
        surge_at = plant(day, seed, args.surge)
        hits = [
            at
            for _, topic, at in naive(day)
            if topic == "topic-0" and surge_at <= at <= surge_at + timedelta(hours=1)
        ]
        if hits:
            naive_hits += 1
            naive_delays.append((hits[0] - surge_at).total_seconds() / 60)
    days = args.seeds
    print()
    print(
        "| setting | false alarms (calm days) | per topic-day | surge detected | "
        "minutes to fire (median) | ms per round |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for name, fa, by_rule, det, delays, spr in rows:
        detail = ", ".join(f"{k} {v}" for k, v in sorted(by_rule.items()))
        print(
            f"| {name} | {fa}{f' ({detail})' if detail else ''} | "
            f"{fa / (days * args.topics):.2f} | {det}/{days} | "
            f"{statistics.median(delays) if delays else float('nan'):.0f} | {spr * 1000:.2f} |"
        )
    print(
        f"| naive: share > 1.5x baseline, n >= 5 | {naive_false} | "
        f"{naive_false / (days * args.topics):.2f} | {naive_hits}/{days} | "
        f"{statistics.median(naive_delays) if naive_delays else float('nan'):.0f} | - |"
    )


if __name__ == "__main__":
    main()
