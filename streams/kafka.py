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
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping
from typing import Any

from aiokafka.errors import UnknownError, UnsupportedVersionError
from faust.transport.drivers import aiokafka as faust_aiokafka

log = logging.getLogger(__name__)


def transport_class(fetch_max_wait_ms: int) -> type[faust_aiokafka.Transport]:
    """Faust's aiokafka Transport whose worker consumer waits at most this long per fetch
    and whose producer is idempotent."""

    class ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
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
