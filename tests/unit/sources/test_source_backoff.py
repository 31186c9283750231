"""A failing feed rests longer after each failure, up to a cap."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sources.backoff import backoff_s, retry_at

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)


def test_no_rest_after_a_single_failure() -> None:
    assert backoff_s(0, 300, 3600) == 0
    assert backoff_s(1, 300, 3600) == 0
    assert retry_at(1, 300, 3600, NOW) is None


def test_doubling_up_to_the_cap() -> None:
    assert [backoff_s(n, 300, 3600) for n in range(2, 7)] == [600, 1200, 2400, 3600, 3600]
    assert backoff_s(10_000, 300, 3600) == 3600


def test_never_shorter_than_the_interval() -> None:
    assert backoff_s(2, 7200, 3600) == 7200


def test_retry_at() -> None:
    assert retry_at(3, 60, 3600, NOW) == NOW + timedelta(seconds=240)


def test_retry_after_header() -> None:
    from sources.http import retry_after_s

    assert retry_after_s("120") == 120
    assert retry_after_s("9999999") == 86_400
    assert retry_after_s("Mon, 02 Mar 2026 12:05:00 GMT", now=NOW) == 300
    assert retry_after_s("Mon, 02 Mar 2026 11:00:00 GMT", now=NOW) == 0
    for bad in (None, "", "soon", "-5", "Mon, 02 Mar 2026 12:05:00"):
        assert retry_after_s(bad, now=NOW) is None
