"""A local Apache Kafka cluster: several KRaft nodes on one host, for replication tests.

Each node is a ``KafkaBroker`` (combined broker + controller) with its own ports and log
directory; all are formatted with one cluster id and vote in one static controller
quorum, and the internal topics get one replica per node. The nodes are launched
together and awaited together: with three voters a single node cannot elect a
controller, so none is ready until a majority runs.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Self

from streams.broker_process import free_port
from streams.exceptions import BrokerError
from streams.kafka_broker import MAVEN_CENTRAL, KafkaBroker, new_cluster_id

log = logging.getLogger(__name__)


def quorum_voters(host: str, controller_ports: list[int]) -> str:
    """``controller.quorum.voters`` of nodes 1..n on ``host``: ``1@host:port,...``."""
    return ",".join(f"{i}@{host}:{port}" for i, port in enumerate(controller_ports, 1))


@dataclass
class KafkaCluster:
    """``size`` Apache Kafka nodes on ``host``, node ``i`` logging under ``data_dir/node-i``.

    ``data_dir=None`` keeps the logs in a temporary directory removed on stop. A node
    stopped or killed alone keeps its directory, so ``restart(i)`` brings it back with its
    log, as a real broker comes back after a crash.
    """

    size: int = 3
    host: str = "127.0.0.1"
    data_dir: Path | None = None
    jars_dir: Path | None = None
    repository: str = MAVEN_CENTRAL
    startup_timeout: float = 120.0
    nodes: list[KafkaBroker] = field(default_factory=list, init=False)
    _tmp: tempfile.TemporaryDirectory[str] | None = field(default=None, init=False, repr=False)

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(node.bootstrap_servers for node in self.nodes)

    def node(self, node_id: int) -> KafkaBroker:
        """The node with KRaft id ``node_id`` (1..size)."""
        if not 1 <= node_id <= len(self.nodes):
            raise BrokerError(f"no node {node_id} in a cluster of {len(self.nodes)}")
        return self.nodes[node_id - 1]

    def start(self) -> Self:
        if self.size < 1:
            raise BrokerError(f"a cluster needs at least one node, not {self.size}")
        if self.data_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="finsent-kafka-cluster-")
            self.data_dir = Path(self._tmp.name)
        ports = [free_port(self.host) for _ in range(self.size)]
        controller_ports = [free_port(self.host) for _ in range(self.size)]
        voters = quorum_voters(self.host, controller_ports)
        cluster_id = new_cluster_id()
        self.nodes = [
            KafkaBroker(
                host=self.host,
                port=port,
                startup_timeout=self.startup_timeout,
                data_dir=self.data_dir / f"node-{node_id}",
                jars_dir=self.jars_dir,
                repository=self.repository,
                node_id=node_id,
                controller_port=controller_port,
                voters=voters,
                cluster_id=cluster_id,
                replication=self.size,
                progress=node_id == 1,
            )
            for node_id, (port, controller_port) in enumerate(
                zip(ports, controller_ports, strict=True), 1
            )
        ]
        try:
            for node in self.nodes:
                node.launch()
            for node in self.nodes:
                node.wait_ready()
        except BaseException:
            self.stop()
            raise
        log.info("Apache Kafka cluster of %d ready at %s", self.size, self.bootstrap_servers)
        return self

    def kill(self, node_id: int) -> None:
        """SIGKILL one node, as a crash would."""
        self.node(node_id).kill()

    def stop_node(self, node_id: int) -> None:
        """Stop one node cleanly (a controlled shutdown moves its leaders first)."""
        self.node(node_id).stop()

    def restart(self, node_id: int) -> None:
        """Start a stopped or killed node again on its ports and log directory."""
        node = self.node(node_id)
        if node.running:
            raise BrokerError(f"node {node_id} is running")
        node.start()

    def stop(self) -> None:
        """Stop every node, then remove a temporary data directory. Safe to call twice.

        All are asked at once: one by one, the last would wait out its timeout for a
        controller quorum the others took away."""
        for node in self.nodes:
            node.request_stop()
        for node in self.nodes:
            node.stop()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp, self.data_dir = None, None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
