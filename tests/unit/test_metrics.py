"""The worker's metric plumbing: the raw-timestamp header and the endpoint's start-up."""

from __future__ import annotations

import socket
import urllib.request

import pytest

from streams.exceptions import MetricsUnavailable
from streams.metrics import PipelineMetrics, serve_metrics
from streams.stages import RAW_TIMESTAMP_HEADER, raw_timestamp, raw_timestamp_header

pytestmark = pytest.mark.unit


def test_raw_timestamp_round_trips_through_the_header() -> None:
    header = raw_timestamp_header(1764400000.125)
    assert header is not None
    assert raw_timestamp(header) == 1764400000.125
    assert raw_timestamp(list(header.items())) == 1764400000.125


@pytest.mark.parametrize(
    "headers",
    [
        None,
        [],
        {},
        [("other", b"1")],
        [(RAW_TIMESTAMP_HEADER, b"not a number")],
        [(RAW_TIMESTAMP_HEADER, b"\xff\xfe")],
    ],
)
def test_a_missing_or_foreign_header_gives_no_timestamp(headers: object) -> None:
    assert raw_timestamp(headers) is None


def test_no_timestamp_gives_no_header() -> None:
    assert raw_timestamp_header(None) is None


def test_two_instances_do_not_share_a_registry() -> None:
    a, b = PipelineMetrics(), PipelineMetrics()
    a.items.labels("news.raw", "consumed").inc(3)
    assert b.registry.get_sample_value(
        "finsent_items_total", {"topic": "news.raw", "stage": "consumed"}
    ) in (None, 0.0)
    assert (
        a.registry.get_sample_value(
            "finsent_items_total", {"topic": "news.raw", "stage": "consumed"}
        )
        == 3.0
    )


def test_the_endpoint_serves_and_a_taken_port_is_named() -> None:
    metrics = PipelineMetrics()
    metrics.deadlettered.labels("news.raw", "classify").inc()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = serve_metrics(metrics.registry, "127.0.0.1", port)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            body = r.read().decode()
        assert 'finsent_deadlettered_total{stage="classify",topic="news.raw"} 1.0' in body
        with pytest.raises(MetricsUnavailable, match=f"127.0.0.1:{port}"):
            serve_metrics(metrics.registry, "127.0.0.1", port)
    finally:
        server.shutdown()
        server.server_close()
