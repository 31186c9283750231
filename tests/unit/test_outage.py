"""An outage is one warning when it begins, a reminder now and then, one line at its end."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy.exc import OperationalError

from core.outage import Outage

log = logging.getLogger("test.outage")


def driver_error() -> OperationalError:
    """What SQLAlchemy raises while PostgreSQL is down: several lines of text."""
    orig = ConnectionRefusedError("connection refused\n\tIs the server running on that host?")
    return OperationalError("INSERT INTO worker_counters ...", {}, orig)


def test_a_failure_every_five_seconds_for_ten_minutes_is_three_lines(
    caplog: pytest.LogCaptureFixture,
) -> None:
    outage = Outage("writing the worker counters", log, remind_s=300)
    caplog.set_level(logging.INFO, logger="test.outage")
    for tick in range(120):  # every 5 s for 10 min
        outage.failed(driver_error(), now=tick * 5.0)
    outage.succeeded(now=600.0)
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 3, messages
    assert messages[0] == (
        "writing the worker counters failed (OperationalError: connection refused); "
        "retrying quietly"
    )
    assert messages[1] == (
        "writing the worker counters still failing after 300 s and 61 tries "
        "(OperationalError: connection refused)"
    )
    assert messages[2] == "writing the worker counters works again after 600 s and 120 failed tries"
    assert all("\n" not in m for m in messages)


def test_success_without_a_failure_says_nothing(caplog: pytest.LogCaptureFixture) -> None:
    outage = Outage("claiming deliveries", log)
    caplog.set_level(logging.INFO, logger="test.outage")
    outage.succeeded(now=1.0)
    assert caplog.records == [] and not outage.ongoing


def test_a_second_outage_is_announced_again(caplog: pytest.LogCaptureFixture) -> None:
    outage = Outage("claiming deliveries", log)
    caplog.set_level(logging.WARNING, logger="test.outage")
    outage.failed(driver_error(), now=0.0)
    outage.succeeded(now=1.0)
    outage.failed(driver_error(), now=2.0)
    assert [r.getMessage().split(" (")[0] for r in caplog.records] == [
        "claiming deliveries failed",
        "claiming deliveries failed",
    ]
