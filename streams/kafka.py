"""Faust's aiokafka transport with the consumer's fetch wait taken from the settings and
an idempotent producer.

Faust builds its worker consumer with ``fetch_max_wait_ms=1500`` and no way to change
it. How long a consumer waits for news then depends on the broker: Apache Kafka answers
a waiting fetch as soon as data arrives, but a Kafka-protocol broker may answer only
when the wait is over. The embedded broker does (measured with aiokafka: a record
reached a waiting consumer after 0.36 s median at 1,500 ms, 14 ms at 100 ms), and the
pipeline pays that on each of its two hops. A short wait costs real Kafka only more
fetch requests from idle consumers.

Faust makes its producer idempotent only inside transactions. Ours is whenever the
broker grants producer ids, as Apache Kafka does (with acks=all, which
``producer_acks=-1`` sets): a send retried after a broker failure, a leader move for
instance, is then written once, not twice.

Faust's livelock check (every 2.5 commit intervals) logs an ERROR when a partition has
records past the consumer's position but its stream has taken none since the last
rebalance, or none for ``stream_processing_timeout`` (likewise for commits). It compares
two clocks that the normal flow makes disagree for a moment: the monitor forgets each
partition's last event at every rebalance, and on a quiet partition a record the broker
has just taken is past the position until the next fetch returns it. A check in that
window reported a healthy worker as stuck ("Stream has not started processing"). Ours
reports a partition only when the checks of at least 5 s (two in a row at finsent's
commit interval) find it so at the same position: the consumer has taken nothing from
it in between (``StallWatch``).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiokafka.errors import UnknownError, UnsupportedVersionError
from aiokafka.structs import TopicPartition
from faust.exceptions import ConsumerNotStarted
from faust.transport.drivers import aiokafka as faust_aiokafka

log = logging.getLogger(__name__)


@dataclass
class StallWatch:
    """Which partitions a check found stuck, and since when, at which position.

    A finding is confirmed when every check for at least ``grace`` seconds found the
    partition stuck at the same position (its consumer took nothing from it in between);
    a check that finds it moving, or not stuck, starts it over.
    """

    grace: float = 5.0
    _since: dict[Hashable, tuple[object, float]] = field(default_factory=dict)

    def found(self, key: Hashable, position: object, now: float) -> bool:
        """A check found ``key`` stuck at ``position``: is it confirmed?"""
        seen = self._since.get(key)
        if seen is None or seen[0] != position:
            self._since[key] = (position, now)
            return False
        return now - seen[1] >= self.grace

    def clear(self, key: Hashable) -> None:
        """A check found ``key`` moving."""
        self._since.pop(key, None)


def transport_class(fetch_max_wait_ms: int) -> type[faust_aiokafka.Transport]:
    """Faust's aiokafka Transport whose worker consumer waits at most this long per fetch
    and whose producer is idempotent."""

    class ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._stalls = StallWatch()
            self._found = False
            self._now = 0.0

        def verify_event_path(self, now: float, tp: Any) -> None:
            self._found, self._now = False, now
            super().verify_event_path(now, tp)
            if not self._found:
                self._stalls.clear(tp)

        def _log_slow_processing_stream(self, msg: str, *args: Any) -> None:
            if self._confirmed(args[0]):
                super()._log_slow_processing_stream(msg, *args)

        def _log_slow_processing_commit(self, msg: str, *args: Any) -> None:
            if self._confirmed(args[0]):
                super()._log_slow_processing_commit(msg, *args)

        def _confirmed(self, tp: Any) -> bool:
            self._found = True
            return self._stalls.found(tp, self._position(tp), self._now)

        def _position(self, tp: Any) -> int | None:
            try:
                assignment = self._ensure_consumer()._fetcher._subscriptions.subscription
                state = assignment.assignment.state_value(TopicPartition(tp.topic, tp.partition))
                return None if state is None else int(state.position)
            # not started yet, or aiokafka's internals moved: the findings alone decide
            except (ConsumerNotStarted, AttributeError, TypeError, ValueError):
                return None

        def _create_worker_consumer(self, transport: Any) -> Any:
            consumer = super()._create_worker_consumer(transport)
            # Read by AIOKafkaConsumer.start() when it builds its fetcher; Faust starts
            # the consumer after creating it.
            if hasattr(consumer, "_fetch_max_wait_ms"):
                consumer._fetch_max_wait_ms = fetch_max_wait_ms
            else:  # an aiokafka that keeps it elsewhere: Faust's 1.5 s stays
                log.warning("cannot set the consumer's fetch wait on this aiokafka version")
            return consumer

    class Consumer(faust_aiokafka.Consumer):
        def _new_consumer_thread(self) -> Any:
            return ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    class Producer(faust_aiokafka.Producer):
        idempotent = True

        def _settings_extra(self) -> Mapping[str, Any]:
            return {**super()._settings_extra(), "enable_idempotence": self.idempotent}

        async def on_start(self) -> None:
            # Faust's own on_start, with one fallback: a broker that grants no producer
            # ids (the embedded one answers InitProducerId with an error) gets a plain
            # acks=all producer and a warning instead of a worker that cannot start.
            await super(faust_aiokafka.Producer, self).on_start()
            producer = self._producer = self._new_producer()
            try:
                await producer.start()
            except (UnknownError, UnsupportedVersionError) as e:
                with contextlib.suppress(Exception):
                    await producer.stop()
                log.warning(
                    "the broker grants no producer id (%s): sending without idempotence, "
                    "so a send retried after a broker failure may be written twice",
                    type(e).__name__,
                )
                self.idempotent = False
                producer = self._producer = self._new_producer()
                await producer.start()
            self.beacon.add(producer)

    class Transport(faust_aiokafka.Transport):
        pass

    Transport.Consumer = Consumer
    Transport.Producer = Producer
    return Transport
