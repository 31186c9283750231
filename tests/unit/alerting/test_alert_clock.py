"""The data clock's watermark and the points a round evaluates (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alerts.clock import (
    EventTimes,
    bucket_edge,
    data_clock_points,
    steps,
    watermark,
    went_back,
)

T = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
SPAN = timedelta(hours=6, minutes=30)
NONE = timedelta(0)


def test_a_stray_current_item_from_another_source_does_not_move_the_watermark() -> None:
    replay = T + 20 * MINUTE + timedelta(seconds=5)
    stray = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    assert watermark({"demo-wire": replay, "live-wire": stray}, stray, NONE) == replay


def test_idle_sources_stop_holding_it_back_and_all_idle_means_the_newest_of_all() -> None:
    stray = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    assert watermark({"live-wire": stray}, stray, NONE) == stray  # the replay's source idle
    assert watermark({}, stray, NONE) == stray
    assert watermark({}, None, NONE) is None


def test_the_allowed_lateness_holds_the_watermark_back() -> None:
    at = T + 20 * MINUTE + timedelta(seconds=20)
    mark = watermark({"a": at}, at, timedelta(seconds=30))
    assert mark == T + 19 * MINUTE + timedelta(seconds=50)
    assert bucket_edge(mark) == T + 19 * MINUTE  # the bucket of 19:xx is still open


def test_steps_are_every_bucket_edge_passed_oldest_first_and_bounded() -> None:
    assert steps(T, T + 3 * MINUTE, 120) == [T + MINUTE, T + 2 * MINUTE, T + 3 * MINUTE]
    assert steps(T, T + 500 * MINUTE, 4) == [T + i * MINUTE for i in range(1, 5)]
    assert steps(T, T, 120) == []
    assert steps(T + MINUTE, T, 120) == []


def test_the_first_round_starts_at_the_oldest_bucket_not_the_newest() -> None:
    times = EventTimes({"demo-wire": T + 5 * MINUTE}, T + 5 * MINUTE, oldest_bucket=T)
    assert data_clock_points(times, None, NONE, SPAN) == [T + i * MINUTE for i in range(1, 6)]


def test_the_first_round_reaches_back_at_most_the_rules_longest_span() -> None:
    newest = T + 10 * 60 * MINUTE
    times = EventTimes({"a": newest}, newest, oldest_bucket=T)
    points = data_clock_points(times, None, NONE, 2 * 60 * MINUTE)
    assert points[0] == newest - 2 * 60 * MINUTE + MINUTE and points[-1] == newest


def test_nothing_to_evaluate_before_a_bucket_closes() -> None:
    times = EventTimes({"a": T + timedelta(seconds=40)}, T + timedelta(seconds=40), T)
    assert data_clock_points(times, None, NONE, SPAN) == []
    assert data_clock_points(EventTimes(), None, NONE, SPAN) == []


def test_the_clock_is_monotonic_a_watermark_behind_evaluates_the_same_point_again() -> None:
    behind = EventTimes({"slow": T + 2 * MINUTE, "fast": T + 50 * MINUTE}, T + 50 * MINUTE, T)
    assert data_clock_points(behind, T + 30 * MINUTE, NONE, SPAN) == [T + 30 * MINUTE]
    moved = EventTimes({"a": T + 33 * MINUTE}, T + 33 * MINUTE, T)
    assert data_clock_points(moved, T + 30 * MINUTE, NONE, SPAN) == [
        T + 31 * MINUTE,
        T + 32 * MINUTE,
        T + 33 * MINUTE,
    ]


def test_only_data_that_went_back_restarts_the_clock() -> None:
    emptied = EventTimes({"a": T + 3 * MINUTE}, T + 3 * MINUTE, T)
    assert went_back(emptied, T + 30 * MINUTE)
    assert not went_back(emptied, None)
    slow_source = EventTimes({"slow": T + 2 * MINUTE}, T + 50 * MINUTE, T)
    assert not went_back(slow_source, T + 30 * MINUTE)
