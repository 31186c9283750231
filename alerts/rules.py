"""The anomaly rules: pure functions from closed buckets to a decision.

Each rule compares a recent ``window`` with the topic's own ``baseline`` (the period of
that length just before the window) and yields an ``Observation``: the numbers behind
the decision, whether the (strict) enter condition holds and whether the (looser) exit
condition still holds. The lifecycle (``lifecycle.py``) turns observations into states.

- ``negative_surge``: one-sided two-proportion z-test of the negative share in the
  window against the baseline, with a minimum count and a minimum share.
- ``volume_spike``: the window's item count against the baseline rate, scored as
  ``-log10 P(X >= count)`` under a Poisson law, with a minimum count.
- ``polarity_drop``: the window's mean polarity below the baseline's by a margin, with a
  minimum count.

No Faust, no Kafka, no SQL: buckets are any objects with the counters below.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, Protocol

Kind = Literal["negative_surge", "volume_spike", "polarity_drop"]
KINDS: tuple[Kind, ...] = ("negative_surge", "volume_spike", "polarity_drop")

#: What each kind's score measures, for messages.
SCORE_NAMES: dict[Kind, str] = {
    "negative_surge": "z",
    "volume_spike": "-log10 p",
    "polarity_drop": "drop",
}


class Bucket(Protocol):
    """One closed time bucket of one topic (``storage.articles.SeriesPoint`` is one)."""

    @property
    def bucket_start(self) -> datetime: ...
    @property
    def n_negative(self) -> int: ...
    @property
    def n_neutral(self) -> int: ...
    @property
    def n_positive(self) -> int: ...
    @property
    def polarity_sum(self) -> float: ...


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule as it applies to one topic (per-topic overrides already merged)."""

    name: str
    kind: Kind
    window: timedelta
    baseline: timedelta
    enter: float
    exit: float
    min_count: int
    hold: timedelta = timedelta(0)  # the ``for`` duration
    cooldown: timedelta = timedelta(0)
    severity: str = "warning"
    min_share: float = 0.0
    min_baseline_count: int = 0
    min_baseline_coverage: float = 0.5
    enabled: bool = True
    inhibits: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Totals:
    """Sums over a span of buckets."""

    n: int = 0
    n_negative: int = 0
    n_neutral: int = 0
    n_positive: int = 0
    polarity_sum: float = 0.0

    @property
    def negative_share(self) -> float | None:
        return self.n_negative / self.n if self.n else None

    @property
    def mean_polarity(self) -> float | None:
        return self.polarity_sum / self.n if self.n else None


@dataclass(frozen=True, slots=True)
class Observation:
    """A rule's verdict on one topic at one time, with the numbers behind it."""

    rule: str
    kind: Kind
    enter: bool
    stay: bool
    value: float | None
    baseline: float | None
    score: float | None
    threshold: float
    exit_threshold: float
    window_start: datetime
    window_end: datetime
    baseline_start: datetime
    window: Totals
    base: Totals
    reason: str


def totals(buckets: Sequence[Bucket], start: datetime, end: datetime) -> Totals:
    """Sum the buckets that start in [start, end)."""
    n_neg = n_neu = n_pos = 0
    pol = 0.0
    for b in buckets:
        if start <= b.bucket_start < end:
            n_neg += b.n_negative
            n_neu += b.n_neutral
            n_pos += b.n_positive
            pol += b.polarity_sum
    return Totals(n_neg + n_neu + n_pos, n_neg, n_neu, n_pos, pol)


def two_proportion_z(x1: int, n1: int, x2: int, n2: int) -> float:
    """Pooled two-proportion z statistic of x1/n1 against x2/n2 (0 when undefined)."""
    if n1 <= 0 or n2 <= 0:
        return 0.0
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0.0:
        return 0.0
    return (x1 / n1 - x2 / n2) / se


def poisson_log10_sf(k: int, lam: float) -> float:
    """``log10 P(X >= k)`` for X ~ Poisson(lam), computed in log space (no underflow)."""
    if k <= 0:
        return 0.0
    if lam <= 0:
        return -math.inf

    def log_pmf(i: int) -> float:
        return -lam + i * math.log(lam) - math.lgamma(i + 1)

    if k <= lam:
        below = sum(math.exp(log_pmf(i)) for i in range(k))
        return math.log10(max(1.0 - below, 1e-300))
    # Tail sum from k upward; terms shrink geometrically once i > lam.
    first = log_pmf(k)
    total, i, term = 1.0, k, 1.0
    while term > 1e-17 and i < k + 100_000:
        i += 1
        term *= lam / i
        total += term
    return (first + math.log(total)) / math.log(10)


def observe(
    rule: Rule,
    buckets: Sequence[Bucket],
    as_of: datetime,
    observed_since: datetime | None = None,
) -> Observation:
    """Evaluate ``rule`` on one topic's closed buckets, for the window ending at ``as_of``.

    ``observed_since`` is when data collection began (the oldest bucket of any topic);
    the part of the baseline before it is not counted as observed.
    """
    window_start = as_of - rule.window
    baseline_start = window_start - rule.baseline
    win = totals(buckets, window_start, as_of)
    base = totals(buckets, baseline_start, window_start)
    covered = rule.baseline
    if observed_since is not None:
        covered = max(timedelta(0), window_start - max(baseline_start, observed_since))
    frame = _Frame(rule, win, base, window_start, as_of, baseline_start, covered)
    if rule.kind == "negative_surge":
        return _negative_surge(frame)
    if rule.kind == "volume_spike":
        return _volume_spike(frame)
    return _polarity_drop(frame)


@dataclass(frozen=True, slots=True)
class _Frame:
    """One rule's view of one topic at one moment: the window, the baseline, the totals."""

    rule: Rule
    win: Totals
    base: Totals
    window_start: datetime
    window_end: datetime
    baseline_start: datetime
    covered: timedelta

    def lacking(self) -> str | None:
        """Why there is too little data to decide, or None."""
        rule, win, base = self.rule, self.win, self.base
        if win.n < rule.min_count:
            return f"{win.n} items in the window, fewer than {rule.min_count}"
        if base.n < rule.min_baseline_count:
            return f"{base.n} items in the baseline, fewer than {rule.min_baseline_count}"
        if self.covered < rule.baseline * rule.min_baseline_coverage:
            return (
                f"baseline observed for {self.covered.total_seconds() / 3600:.2f} h, less than "
                f"{rule.min_baseline_coverage:.0%} of {rule.baseline.total_seconds() / 3600:g} h"
            )
        return None

    def observation(
        self,
        *,
        enter: bool,
        stay: bool,
        value: float | None,
        baseline: float | None,
        score: float | None,
        reason: str,
    ) -> Observation:
        return Observation(
            rule=self.rule.name,
            kind=self.rule.kind,
            enter=enter,
            stay=stay,
            value=value,
            baseline=baseline,
            score=score,
            threshold=self.rule.enter,
            exit_threshold=self.rule.exit,
            window_start=self.window_start,
            window_end=self.window_end,
            baseline_start=self.baseline_start,
            window=self.win,
            base=self.base,
            reason=reason,
        )

    def undecided(self, value: float | None, baseline: float | None, reason: str) -> Observation:
        """Too little to go on: neither enters nor stays."""
        return self.observation(
            enter=False, stay=False, value=value, baseline=baseline, score=None, reason=reason
        )

    def decided(
        self, value: float | None, baseline: float | None, score: float, reason: str, *, gate: bool
    ) -> Observation:
        """Enters at the enter threshold (and ``gate``), stays above the exit threshold."""
        return self.observation(
            enter=score >= self.rule.enter and gate,
            stay=score >= self.rule.exit,
            value=value,
            baseline=baseline,
            score=score,
            reason=reason,
        )


def _negative_surge(f: _Frame) -> Observation:
    rule, win, base = f.rule, f.win, f.base
    share, base_share = win.negative_share, base.negative_share
    lacking = f.lacking()
    if lacking is not None:
        return f.undecided(share, base_share, lacking)
    z = two_proportion_z(win.n_negative, win.n, base.n_negative, base.n)
    assert share is not None
    reason = (
        f"negative share {share:.1%} of {win.n} vs baseline {base_share or 0:.1%} of "
        f"{base.n}: z={z:.2f} (enter >= {rule.enter:g}, exit < {rule.exit:g}, "
        f"min share {rule.min_share:.0%})"
    )
    return f.decided(share, base_share, z, reason, gate=share >= rule.min_share)


def _volume_spike(f: _Frame) -> Observation:
    rule, win, base = f.rule, f.win, f.base
    lacking = f.lacking()
    seconds = f.covered.total_seconds()
    # Add-one smoothing: a topic never seen before is surprising, not infinitely so.
    expected = (base.n + 1) / seconds * rule.window.total_seconds() if seconds > 0 else None
    if lacking is not None or expected is None:
        return f.undecided(float(win.n), expected, lacking or "no baseline observed yet")
    score = -poisson_log10_sf(win.n, expected)
    reason = (
        f"{win.n} items in {_span(rule.window)} vs {expected:.1f} expected: "
        f"-log10 p={score:.2f} (enter >= {rule.enter:g}, exit < {rule.exit:g})"
    )
    return f.decided(float(win.n), expected, score, reason, gate=True)


def _polarity_drop(f: _Frame) -> Observation:
    rule, win, base = f.rule, f.win, f.base
    mean, base_mean = win.mean_polarity, base.mean_polarity
    lacking = f.lacking()
    if lacking is not None or mean is None or base_mean is None:
        return f.undecided(mean, base_mean, lacking or "no baseline items")
    drop = base_mean - mean
    reason = (
        f"mean polarity {mean:+.2f} of {win.n} vs baseline {base_mean:+.2f} of {base.n}: "
        f"drop {drop:.2f} (enter >= {rule.enter:g}, exit < {rule.exit:g})"
    )
    return f.decided(mean, base_mean, drop, reason, gate=True)


def _span(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0 and seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def format_span(delta: timedelta) -> str:
    """``30m``, ``24h``, ``90s``: the way the rules file writes durations."""
    return _span(delta) if delta.total_seconds() else "0s"
