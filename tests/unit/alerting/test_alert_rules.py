"""Each rule on hand-made bucket series: surges, edges, gaps."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from alerts.rules import Rule, observe, poisson_log10_sf, two_proportion_z
from storage.articles import SeriesPoint

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)

SURGE = Rule(
    name="negative_surge",
    kind="negative_surge",
    window=timedelta(minutes=30),
    baseline=timedelta(hours=6),
    enter=4.0,
    exit=2.0,
    min_count=10,
    min_share=0.3,
    min_baseline_count=20,
)
VOLUME = Rule(
    name="volume_spike",
    kind="volume_spike",
    window=timedelta(minutes=30),
    baseline=timedelta(hours=6),
    enter=8.0,
    exit=4.0,
    min_count=20,
)
DROP = Rule(
    name="polarity_drop",
    kind="polarity_drop",
    window=timedelta(minutes=30),
    baseline=timedelta(hours=6),
    enter=0.5,
    exit=0.25,
    min_count=20,
    min_baseline_count=30,
)


def bucket(at: datetime, neg: int = 0, neu: int = 0, pos: int = 0, pol: float | None = None):
    polarity = pol if pol is not None else 0.9 * (pos - neg)
    return SeriesPoint("acme", at, neg, neu, pos, polarity)


def series(
    as_of: datetime,
    *,
    base_every: int,
    base: tuple[int, int, int],
    window: list[tuple[int, int, int]],
    hours: int = 6,
) -> list[SeriesPoint]:
    """Baseline: one bucket of ``base`` (neg, neu, pos) every ``base_every`` minutes over
    ``hours`` before the 30-minute window; window: the given buckets, one per minute."""
    window_start = as_of - timedelta(minutes=30)
    out = [
        bucket(window_start - hours * 60 * MIN + i * MIN, *base)
        for i in range(0, hours * 60, base_every)
    ]
    out += [bucket(window_start + i * MIN, *counts) for i, counts in enumerate(window)]
    return out


# --- negative surge ------------------------------------------------------------------


def test_a_negative_surge_enters_with_the_z_of_the_two_shares() -> None:
    data = series(T0, base_every=6, base=(1, 6, 3), window=[(2, 1, 0)] * 10)
    obs = observe(SURGE, data, T0)
    # baseline: 60 buckets of 10 items, 10% negative; window: 30 items, 20 negative
    assert (obs.window.n, obs.window.n_negative, obs.base.n, obs.base.n_negative) == (
        30,
        20,
        600,
        60,
    )
    assert obs.value == pytest.approx(20 / 30)
    assert obs.baseline == pytest.approx(0.1)
    pooled = 80 / 630
    z = (20 / 30 - 0.1) / math.sqrt(pooled * (1 - pooled) * (1 / 30 + 1 / 600))
    assert obs.score == pytest.approx(z)
    assert obs.enter and obs.stay


def test_too_few_items_in_the_window_decides_nothing() -> None:
    data = series(T0, base_every=6, base=(1, 6, 3), window=[(1, 0, 0)] * 9)  # 9 < 10
    obs = observe(SURGE, data, T0)
    assert obs.window.n_negative == 9 and obs.value == 1.0
    assert not obs.enter and not obs.stay
    assert obs.score is None and "fewer than 10" in obs.reason


def test_exactly_at_the_thresholds_enters() -> None:
    data = series(T0, base_every=6, base=(1, 6, 3), window=[(1, 2, 0)] * 10)  # share 1/3
    z = observe(SURGE, data, T0).score
    assert z is not None
    at = replace(SURGE, enter=z, min_share=10 / 30)
    assert observe(at, data, T0).enter
    above = replace(SURGE, enter=z + 1e-9)
    assert not observe(above, data, T0).enter
    assert not observe(replace(at, min_share=10 / 30 + 1e-9), data, T0).enter


def test_a_high_z_on_a_small_share_does_not_enter() -> None:
    # baseline almost never negative: 4 negatives of 30 is very significant but only 13%
    data = series(T0, base_every=6, base=(0, 7, 3), window=[(1, 2, 0)] * 4 + [(0, 2, 1)] * 9)
    obs = observe(SURGE, data, T0)
    assert obs.score is not None and obs.score > SURGE.enter
    assert obs.value is not None and obs.value < SURGE.min_share
    assert not obs.enter


def test_a_gap_with_no_data_decides_nothing() -> None:
    only_baseline = series(T0, base_every=6, base=(1, 6, 3), window=[])
    obs = observe(SURGE, only_baseline, T0)
    assert obs.window.n == 0 and obs.value is None and not obs.enter and not obs.stay
    nothing = observe(SURGE, [], T0)
    assert nothing.window.n == nothing.base.n == 0 and not nothing.enter


def test_without_enough_baseline_it_decides_nothing() -> None:
    data = series(T0, base_every=60, base=(0, 2, 1), window=[(2, 1, 0)] * 10)  # 18 < 20
    obs = observe(SURGE, data, T0)
    assert not obs.enter and "baseline" in obs.reason


def test_a_baseline_observed_too_briefly_decides_nothing() -> None:
    data = series(T0, base_every=6, base=(1, 6, 3), window=[(2, 1, 0)] * 10)
    window_start = T0 - SURGE.window
    rule = replace(SURGE, min_baseline_coverage=0.5)
    assert observe(rule, data, T0, observed_since=window_start - timedelta(hours=3)).enter
    late = observe(rule, data, T0, observed_since=window_start - timedelta(hours=2))
    assert not late.enter and "observed for 2.00 h" in late.reason


def test_exit_is_looser_than_enter() -> None:
    # 12 of 30 negative against a 10% baseline: z about 4.9 with enter 6, exit 2
    data = series(
        T0, base_every=6, base=(1, 6, 3), window=[(2, 1, 0)] * 4 + [(1, 2, 0)] * 4 + [(0, 3, 0)] * 2
    )
    obs = observe(replace(SURGE, enter=6.0), data, T0)
    assert obs.score is not None and 2.0 < obs.score < 6.0
    assert not obs.enter and obs.stay


def test_two_proportion_z_is_zero_when_undefined() -> None:
    assert two_proportion_z(0, 0, 5, 10) == 0.0
    assert two_proportion_z(10, 10, 10, 10) == 0.0  # pooled share 1: no variance


# --- volume spike --------------------------------------------------------------------


@pytest.mark.parametrize(("k", "lam"), [(1, 0.5), (5, 2.0), (20, 3.0), (60, 5.5), (3, 9.0)])
def test_the_poisson_tail_matches_scipy(k: int, lam: float) -> None:
    from scipy.stats import poisson

    assert poisson_log10_sf(k, lam) == pytest.approx(math.log10(poisson.sf(k - 1, lam)), rel=1e-9)


def test_the_poisson_tail_does_not_underflow() -> None:
    assert poisson_log10_sf(2000, 1.0) < -4000


def test_a_volume_spike_scores_the_tail_of_the_baseline_rate() -> None:
    # baseline: 3 items every 6 minutes = 30/h -> 15 expected per 30 minutes (+1/12 smoothing)
    data = series(T0, base_every=6, base=(0, 2, 1), window=[(0, 2, 1)] * 15)  # 45 items
    obs = observe(VOLUME, data, T0)
    expected = (180 + 1) / (6 * 3600) * 1800
    assert obs.value == 45 and obs.baseline == pytest.approx(expected)
    assert obs.score == pytest.approx(-poisson_log10_sf(45, expected))
    assert obs.enter


def test_a_steady_rate_is_not_a_spike() -> None:
    data = series(T0, base_every=6, base=(0, 2, 1), window=[(0, 1, 0)] * 16 + [(0, 0, 0)] * 14)
    obs = observe(replace(VOLUME, min_count=10), data, T0)
    assert obs.score is not None and obs.score < VOLUME.exit
    assert not obs.enter and not obs.stay


def test_volume_below_the_minimum_count_decides_nothing() -> None:
    data = series(T0, base_every=60, base=(0, 1, 0), window=[(0, 19, 0)])
    obs = observe(VOLUME, data, T0)
    assert obs.value == 19 and not obs.enter and "fewer than 20" in obs.reason


# --- polarity drop -------------------------------------------------------------------


def test_a_polarity_drop_by_the_margin_enters() -> None:
    # baseline mean +0.25, window mean -0.25: a drop of exactly 0.5
    data = [bucket(T0 - timedelta(hours=3) + i * MIN, 0, 4, 0, pol=1.0) for i in range(10)]
    data += [bucket(T0 - timedelta(minutes=20) + i * MIN, 0, 4, 0, pol=-1.0) for i in range(5)]
    obs = observe(DROP, data, T0)
    assert (obs.value, obs.baseline, obs.score) == (-0.25, 0.25, 0.5)
    assert obs.enter and obs.stay
    assert not observe(replace(DROP, enter=0.5 + 1e-9), data, T0).enter


def test_a_smaller_drop_only_keeps_a_firing_alert() -> None:
    data = [bucket(T0 - timedelta(hours=3) + i * MIN, 0, 4, 0, pol=1.0) for i in range(10)]
    data += [bucket(T0 - timedelta(minutes=20) + i * MIN, 0, 4, 0, pol=-0.2) for i in range(5)]
    obs = observe(DROP, data, T0)
    assert obs.score == pytest.approx(0.3)
    assert not obs.enter and obs.stay


def test_a_polarity_drop_needs_items() -> None:
    data = [bucket(T0 - timedelta(hours=3) + i * MIN, 0, 4, 0, pol=1.0) for i in range(10)]
    data += [bucket(T0 - timedelta(minutes=20), 19, 0, 0)]
    obs = observe(DROP, data, T0)
    assert not obs.enter and "fewer than 20" in obs.reason
