"""The wrong-password throttle: five tries per client per five minutes."""

from __future__ import annotations

from dashboard.throttle import Throttle


def test_five_wrong_passwords_lock_that_client_out_until_the_first_ages() -> None:
    t = Throttle(max_failures=5, window_s=300)
    for second in range(5):
        assert t.wait_s("10.0.0.1", second) == 0
        t.failed("10.0.0.1", second)
    assert t.wait_s("10.0.0.1", 10) == 290
    assert t.wait_s("10.0.0.2", 10) == 0  # another client is not held up
    assert t.wait_s("10.0.0.1", 300.5) == 0  # the oldest failure aged out: one more try
    t.failed("10.0.0.1", 300.5)
    assert t.wait_s("10.0.0.1", 300.6) > 0  # and that one was the fifth again
