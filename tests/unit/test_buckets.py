from datetime import UTC, datetime, timedelta, timezone

import pytest

from storage.buckets import bucket_increments, floor_time, grid, source_width

IST = timezone(timedelta(hours=5, minutes=30))


def test_floor_time_is_utc_and_aligned_to_the_epoch() -> None:
    t = datetime(2026, 3, 1, 10, 7, 59, 999999, tzinfo=UTC)
    assert floor_time(t, 60) == datetime(2026, 3, 1, 10, 7, tzinfo=UTC)
    assert floor_time(t, 300) == datetime(2026, 3, 1, 10, 5, tzinfo=UTC)
    assert floor_time(t, 3600) == datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    assert floor_time(t, 86400) == datetime(2026, 3, 1, tzinfo=UTC)


def test_floor_time_converts_other_zones_to_utc_days() -> None:
    # 02:00 on 2 March in India is 20:30 on 1 March in UTC: the UTC day counts.
    t = datetime(2026, 3, 2, 2, 0, tzinfo=IST)
    assert floor_time(t, 86400) == datetime(2026, 3, 1, tzinfo=UTC)
    assert floor_time(t, 3600) == datetime(2026, 3, 1, 20, tzinfo=UTC)


def test_a_bucket_edge_belongs_to_the_bucket_it_starts() -> None:
    edge = datetime(2026, 3, 1, 11, 0, tzinfo=UTC)
    assert floor_time(edge, 3600) == edge
    assert floor_time(edge - timedelta(microseconds=1), 3600) == edge - timedelta(hours=1)


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        floor_time(datetime(2026, 3, 1, 10, 0), 60)  # noqa: DTZ001 - the point of the test
    with pytest.raises(ValueError, match="start="):
        grid(datetime(2026, 3, 1), datetime(2026, 3, 2, tzinfo=UTC), 60)  # noqa: DTZ001


def test_grid_covers_start_to_end_exclusive() -> None:
    start = datetime(2026, 3, 1, 10, 2, tzinfo=UTC)
    end = datetime(2026, 3, 1, 10, 15, tzinfo=UTC)
    assert grid(start, end, 300) == [
        datetime(2026, 3, 1, 10, 0, tzinfo=UTC),
        datetime(2026, 3, 1, 10, 5, tzinfo=UTC),
        datetime(2026, 3, 1, 10, 10, tzinfo=UTC),
    ]
    assert len(grid(start, end + timedelta(seconds=1), 300)) == 4


def test_grid_rejects_an_empty_range() -> None:
    t = datetime(2026, 3, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="not after"):
        grid(t, t, 60)


@pytest.mark.parametrize(
    ("resolution", "width"), [(60, 60), (300, 60), (3600, 3600), (7200, 3600), (86400, 86400)]
)
def test_source_width_is_the_largest_stored_divisor(resolution: int, width: int) -> None:
    assert source_width(resolution) == width


@pytest.mark.parametrize("resolution", [0, -60, 90, 30])
def test_source_width_rejects_resolutions_it_cannot_serve(resolution: int) -> None:
    with pytest.raises(ValueError, match="resolution"):
        source_width(resolution)


def test_bucket_increments_counts_each_topic_once_per_width() -> None:
    t = datetime(2026, 3, 1, 10, 30, tzinfo=UTC)
    inc = bucket_increments(
        [(["oil", "oil", "market"], t, "negative", -0.5), (["oil"], t, "positive", 0.25)],
        widths=(60, 3600),
    )
    oil_minute = inc[("oil", 60, t)]
    assert (oil_minute.n_negative, oil_minute.n_neutral, oil_minute.n_positive) == (1, 0, 1)
    assert oil_minute.polarity_sum == pytest.approx(-0.25)
    assert inc[("market", 3600, datetime(2026, 3, 1, 10, tzinfo=UTC))].n_negative == 1
    assert len(inc) == 4


def test_bucket_increments_rejects_unknown_labels() -> None:
    with pytest.raises(ValueError, match="unknown label"):
        bucket_increments([(["oil"], datetime(2026, 3, 1, tzinfo=UTC), "bullish", 0.1)])
