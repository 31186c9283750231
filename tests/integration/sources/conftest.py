"""Fixtures of the sources tests: a real HTTP server on 127.0.0.1 (see feedserver.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.sources.feedserver import FeedServer


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    with FeedServer().running() as server:
        yield server


@pytest.fixture
def other_server() -> Iterator[FeedServer]:
    """A second server on another port of 127.0.0.1 (a database next to the feeds)."""
    with FeedServer().running() as server:
        yield server


@pytest.fixture
def second_loopback() -> Iterator[FeedServer]:
    """A server on 127.0.0.2: another network than 127.0.0.1/32."""
    try:
        server = FeedServer("127.0.0.2")
    except OSError as e:  # a system whose loopback is 127.0.0.1 alone
        pytest.skip(f"cannot listen on 127.0.0.2: {e}")
    with server.running():
        yield server
