"""A local broker as a child process: ports, readiness, logs and a clean stop.

The embedded broker (``streams.embedded_broker``) and Apache Kafka
(``streams.kafka_broker``) are both a process that listens on one port and is ready once
it answers a Kafka Metadata request. This module holds what they share: the network
probes, the child process started so that it dies with its parent, and the stop.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Self

from streams.exceptions import BrokerError, BrokerPortInUse

log = logging.getLogger(__name__)

_METADATA_API_KEY = 3


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def port_taken(host: str, port: int, setting: str) -> str | None:
    """Why ``host:port`` cannot be bound now (a line naming ``setting``), or None.

    Bound as servers bind (``SO_REUSEADDR`` on POSIX, which the brokers set too): the
    TIME-WAIT connections a stopped broker leaves behind do not make its port look taken.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        if os.name == "posix":
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as e:
            return (
                f"port {port} on {host} is already in use ({e.strerror}): stop what listens "
                f"there or choose another port with --port / {setting}"
            )
    return None


def check_port_free(host: str, port: int) -> None:
    """Raise ``BrokerPortInUse`` if ``host:port`` cannot be bound."""
    problem = port_taken(host, port, "FINSENT_BROKER_PORT")
    if problem is not None:
        raise BrokerPortInUse(problem)


def die_with_parent() -> None:
    """In a broker's child process, before it runs (Linux): ask the kernel for SIGTERM
    when the process that started it dies, even by ``kill -9``, so no broker is orphaned."""
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)


def metadata_request(correlation_id: int, client_id: str = "finsent") -> bytes:
    """A Kafka Metadata v0 request for all topics, framed with its length."""
    client = client_id.encode()
    header = struct.pack(">hhih", _METADATA_API_KEY, 0, correlation_id, len(client)) + client
    body = struct.pack(">i", 0)  # v0: an empty topic array asks for every topic
    payload = header + body
    return struct.pack(">i", len(payload)) + payload


def answers_metadata(host: str, port: int, timeout: float = 1.0) -> bool:
    """True if a Kafka broker at ``host:port`` answers a Metadata request."""
    correlation_id = int(time.monotonic_ns() % 2**31)
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.sendall(metadata_request(correlation_id))
            head = _recv_exact(s, 8)
    except OSError:
        return False
    if head is None:
        return False
    size, got_id = struct.unpack(">ii", head)
    return bool(size >= 4 and got_id == correlation_id)


def _recv_exact(s: socket.socket, n: int) -> bytes | None:
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


@dataclass
class BrokerProcess(ABC):
    """A broker child process. Subclasses say how to prepare and launch it.

    Use as a context manager, or ``start()``/``stop()``. ``port=0`` picks a free port.
    """

    host: str = "127.0.0.1"
    port: int = 0
    startup_timeout: float = 30.0
    log_path: Path | None = None
    #: What the messages call this broker ("embedded broker", "Apache Kafka").
    kind_name = "broker"
    #: Whether a stop loses every topic, record and committed offset.
    forgets_on_stop = False
    #: Seconds ``stop()`` waits after SIGTERM before SIGKILL.
    stop_timeout = 10.0
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _own_log: bool = field(default=False, init=False, repr=False)

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @abstractmethod
    def persistence(self) -> str:
        """What a stop keeps, in words."""

    def prepare(self) -> None:  # noqa: B027 (an optional hook: most brokers need nothing)
        """Before the port is chosen and the process launched: find binaries, write files."""

    @abstractmethod
    def command(self) -> tuple[list[str], dict[str, str] | None]:
        """The argv and environment (None: inherit) of the broker process."""

    def start(self) -> Self:
        """Launch the broker and wait until it answers."""
        self.launch()
        self.wait_ready()
        return self

    def launch(self) -> None:
        """Start the broker process without waiting for it (a cluster's nodes are ready
        only once enough of them run)."""
        self.prepare()
        if self.port == 0:
            self.port = free_port(self.host)
        else:
            check_port_free(self.host, self.port)
        if self.log_path is None:
            fd, name = tempfile.mkstemp(prefix=f"finsent-broker-{self.port}-", suffix=".log")
            os.close(fd)
            self.log_path, self._own_log = Path(name), True
        argv, env = self.command()
        with open(self.log_path, "ab") as out:
            self._process = subprocess.Popen(
                argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
                preexec_fn=die_with_parent if sys.platform == "linux" else None,
            )
        log.info(
            "%s starting on %s (pid %d)", self.kind_name, self.bootstrap_servers, self.pid or 0
        )

    def wait_ready(self) -> None:
        """Wait until the launched broker answers a Metadata request; stop it and raise
        ``BrokerError`` if it exits first or ``startup_timeout`` passes."""
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if not self.running:
                code = self._process.returncode if self._process else None
                raise BrokerError(
                    f"{self.kind_name} exited with code {code} while starting on "
                    f"{self.bootstrap_servers}: {self.log_tail()}"
                )
            if answers_metadata(self.host, self.port, timeout=1.0):
                log.info("%s ready at %s", self.kind_name, self.bootstrap_servers)
                return
            time.sleep(0.1)
        self.stop()
        raise BrokerError(
            f"{self.kind_name} did not answer on {self.bootstrap_servers} within "
            f"{self.startup_timeout:.0f}s: {self.log_tail()}"
        )

    def log_tail(self, lines: int = 5) -> str:
        """The last lines of the broker's log, on one line."""
        if self.log_path is None or not self.log_path.exists():
            return "(no log)"
        text = self.log_path.read_text(errors="replace").strip().splitlines()
        return " | ".join(text[-lines:]) or "(empty log)"

    def wait(self) -> int:
        """Block until the broker process ends; return its exit code."""
        assert self._process is not None, "broker not started"
        return self._process.wait()

    def kill(self) -> None:
        """SIGKILL the broker now, as a crash would (for fault tests)."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def request_stop(self) -> None:
        """SIGTERM now, without waiting (``stop()`` waits): to stop several at once."""
        if self._process is not None and self._process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._process.pid, signal.SIGTERM)

    def stop(self, timeout: float | None = None) -> None:
        """SIGTERM, then SIGKILL after ``timeout`` seconds. Safe to call twice."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=self.stop_timeout if timeout is None else timeout)
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop within its timeout: killed", self.kind_name)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.info("%s on %s stopped", self.kind_name, self.bootstrap_servers)
        if self._own_log and self.log_path is not None:
            self.log_path.unlink(missing_ok=True)  # a temporary log of a clean run
            self.log_path, self._own_log = None, False

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
