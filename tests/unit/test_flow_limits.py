"""How many records the worker takes from Kafka at once (streams.app.flow_limits)."""

from __future__ import annotations

import pytest

from streams.app import FAUST_BUFFER, WorkerConfig, create_app, flow_limits
from streams.topics import topic_names


def test_a_fetch_is_a_few_batches_and_fits_above_the_pause_mark() -> None:
    limits = flow_limits(batch_size=256, prefetch_batches=2)
    assert limits.max_poll_records == 512
    assert limits.stream_buffer == FAUST_BUFFER
    # Faust pauses an agent's partitions at 80 % of its buffer: a whole fetch still fits.
    assert limits.stream_buffer - limits.stream_buffer * 0.8 >= limits.max_poll_records


@pytest.mark.parametrize(("batch", "prefetch"), [(2000, 4), (10_000, 100), (1, 1)])
def test_large_batches_get_a_buffer_to_match(batch: int, prefetch: int) -> None:
    limits = flow_limits(batch, prefetch)
    assert limits.max_poll_records == batch * prefetch
    assert limits.stream_buffer * 0.2 >= limits.max_poll_records


def test_zero_leaves_faust_defaults() -> None:
    limits = flow_limits(256, 0)
    assert limits.max_poll_records is None and limits.stream_buffer == FAUST_BUFFER


def test_the_app_is_configured_with_them() -> None:
    config = WorkerConfig(
        app_id="t",
        bootstrap_servers="127.0.0.1:9",
        topics=topic_names(""),
        partitions=8,
        batch_size=100,
        prefetch_batches=3,
    )
    app = create_app(config)
    assert app.conf.broker_max_poll_records == 300
    assert app.conf.stream_buffer_maxsize == FAUST_BUFFER
