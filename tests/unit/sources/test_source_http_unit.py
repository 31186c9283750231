"""The fetcher's waits without a network: a host's turn and a robots.txt being fetched
by another poll are waited for until the fetch's deadline, and no longer."""

from __future__ import annotations

import math
import threading
import time

import pytest

from sources.errors import FetchError
from sources.http import HostGates, Watch, acquire_within
from sources.robots import RobotsCache, RobotsRules


def test_a_held_host_turn_is_waited_for_until_the_deadline() -> None:
    gates = HostGates(delay=0.0)
    stop = threading.Event()
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with gates.turn("feeds.example", stop):
            holding.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    assert holding.wait(5)
    try:
        started = time.monotonic()
        with (
            pytest.raises(FetchError, match=r"gave up waiting for the turn of host feeds\.example"),
            gates.turn("FEEDS.example", stop, deadline=time.monotonic() + 0.4),
        ):
            pass
        assert 0.35 < time.monotonic() - started < 1.0
        with gates.turn("other.example", stop, deadline=time.monotonic() + 0.4):
            pass  # another host is not held up
    finally:
        release.set()
        holder.join()
    with gates.turn("feeds.example", stop, deadline=time.monotonic() + 0.4):
        pass  # released: free again


def test_a_host_delay_longer_than_the_deadline_fails_at_once() -> None:
    gates = HostGates(delay=30.0)
    stop = threading.Event()
    with gates.turn("feeds.example", stop):
        pass
    started = time.monotonic()
    with (
        pytest.raises(FetchError, match="fetch deadline"),
        gates.turn("feeds.example", stop, deadline=time.monotonic() + 1.0),
    ):
        pass
    assert time.monotonic() - started < 0.5
    with gates.turn("other.example", stop, deadline=time.monotonic() + 1.0):
        pass


def test_a_stop_ends_the_wait_for_a_turn() -> None:
    gates = HostGates(delay=0.0)
    stop = threading.Event()
    lock = threading.Lock()
    lock.acquire()
    threading.Timer(0.2, stop.set).start()
    started = time.monotonic()
    with pytest.raises(FetchError, match="stopping"):
        acquire_within(lock, Watch(math.inf, stop), "a lock")
    assert time.monotonic() - started < 1.0
    del gates


def test_a_robots_txt_fetched_by_another_poll_is_waited_for_until_the_deadline() -> None:
    fetching, release = threading.Event(), threading.Event()

    def slow_fetch(url: str) -> RobotsRules:
        fetching.set()
        release.wait(10)
        return RobotsRules(allow_all=True)

    cache = RobotsCache(slow_fetch, ttl_s=60)
    first = threading.Thread(target=cache.rules, args=("https://feeds.example/a",))
    first.start()
    assert fetching.wait(5)
    try:
        watch = Watch(time.monotonic() + 0.3, threading.Event())
        with pytest.raises(FetchError, match=r"gave up waiting for the robots\.txt"):
            cache.rules(
                "https://feeds.example/b",
                lambda lock: acquire_within(lock, watch, "the robots.txt of feeds.example"),
            )
    finally:
        release.set()
        first.join()
    assert cache.rules("https://feeds.example/b").allow_all


@pytest.mark.parametrize("networks", [(), ("10.0.0.0/8",)], ids=["no-grant", "allowed-network"])
def test_a_name_lookup_that_hangs_ends_at_the_deadline(networks: tuple[str, ...]) -> None:
    import ipaddress

    from sources.http import Fetcher, FetchLimits

    def hanging(host: str, port: int) -> list[str]:
        time.sleep(5)
        return ["127.0.0.1"]

    limits = FetchLimits(
        user_agent="finsent-test/1.0",
        deadline=0.8,
        allowed_networks=tuple(ipaddress.ip_network(n) for n in networks),
    )
    stop = threading.Event()
    fetcher = Fetcher(limits, resolver=hanging, stop=stop)
    started = time.monotonic()
    with pytest.raises(FetchError, match=r"cannot resolve slow\.test: timed out"):
        fetcher.fetch("http://slow.test/feed", allow_private=True)
    assert time.monotonic() - started < 1.5
    threading.Timer(0.2, stop.set).start()
    started = time.monotonic()
    with pytest.raises(FetchError, match="stopping"):
        Fetcher(FetchLimits(user_agent="t/1", deadline=60), resolver=hanging, stop=stop).fetch(
            "http://slow.test/feed", allow_private=True
        )
    assert time.monotonic() - started < 1.0
