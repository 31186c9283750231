"""Fixtures of the sources tests: a real HTTP server on 127.0.0.1 (see feedserver.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.sources.feedserver import FeedServer


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    server = FeedServer()
    server.thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()
