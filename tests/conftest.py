"""Shared fixtures: a fresh PostgreSQL database per run, a broker of each kind per run.

Nothing that can run here is mocked. The PostgreSQL server is ``FINSENT_TEST_DATABASE_URL``
when set, else the local server at 127.0.0.1:5432 (user postgres) when one answers, else
an embedded server (the same wheel the product's default uses) that the run starts in a
temporary directory and stops at its end. A database named ``finsent_test_<random>`` is
created for the run, migrated to head once, emptied before each test that uses it, and
dropped at the end.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL, make_url

if TYPE_CHECKING:
    from streams.broker_process import BrokerProcess

pytest_plugins = ["tests.system_programs"]  # @pytest.mark.needs: programs on PATH

REPO = Path(__file__).resolve().parent.parent
DEFAULT_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test by the folder it lives in: unit, integration or e2e."""
    for item in items:
        parts = Path(str(item.fspath)).relative_to(REPO / "tests").parts
        if parts and parts[0] in ("unit", "integration", "e2e"):
            item.add_marker(getattr(pytest.mark, parts[0]))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    """After a test marked ``refused_sockets`` (its in-process Kafka clients saw a broker
    go away), collect what kafka-python dropped unclosed: the sockets of refused
    connections. Not in a fixture's teardown: the test's log records keep them alive
    until its report is made, and a later test would get their ResourceWarnings, which
    the suite turns into errors. Silently, and only there (a collection takes 0.2 s)."""
    result = yield
    if item.get_closest_marker("refused_sockets") is not None:
        import gc
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            gc.collect()
    return result


# --- PostgreSQL --------------------------------------------------------------------


@functools.cache
def server_url() -> URL:
    """The server this run creates its databases on (see the module's docstring)."""
    given = os.environ.get("FINSENT_TEST_DATABASE_URL")
    if given:
        url = make_url(given)
        if url.drivername in ("postgresql", "postgres"):
            url = url.set(drivername="postgresql+psycopg")
        return url
    if answers(DEFAULT_SERVER):
        return make_url(DEFAULT_SERVER)
    return embedded_server()


def answers(url: str) -> bool:
    import psycopg

    try:
        psycopg.connect(url.replace("+psycopg", ""), connect_timeout=2).close()
    except psycopg.Error:
        return False
    return True


def embedded_server() -> URL:
    """An embedded PostgreSQL server in a temporary directory, removed when the run ends
    (the server itself stops when this process exits)."""
    import atexit

    from storage.embedded import start_embedded

    directory = Path(tempfile.mkdtemp(prefix="finsent-test-pg-"))
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    return start_embedded(directory / "pgdata", database="postgres")


def create_database(prefix: str = "finsent_test") -> URL:
    """Create an empty database on the test server; return its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return server_url().set(database=name)


def drop_database(url: URL) -> None:
    admin = create_engine(server_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """URL of this run's database, migrated to head."""
    from storage import migrate
    from storage.db import make_engine

    url = create_database()
    rendered = url.render_as_string(hide_password=False)
    engine = make_engine(rendered)
    migrate.upgrade(engine)
    engine.dispose()
    yield rendered
    drop_database(url)


@pytest.fixture(scope="session")
def pg_engine(pg_url: str) -> Iterator[Engine]:
    from storage.db import make_engine

    engine = make_engine(pg_url)
    yield engine
    engine.dispose()


@pytest.fixture
def db(pg_engine: Engine) -> Engine:
    """The run's database, emptied for this test."""
    from storage.models import Base

    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with pg_engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    return pg_engine


@pytest.fixture
def empty_pg_url() -> Iterator[str]:
    """A brand-new, unmigrated database of its own, for migration and CLI tests."""
    url = create_database("finsent_empty")
    yield url.render_as_string(hide_password=False)
    drop_database(url)


# --- Kafka ---------------------------------------------------------------------------


#: Apache Kafka's jars, downloaded once and kept between runs (the directory is ignored by git)
KAFKA_JARS = REPO / ".cache" / "kafka-jars"
BROKER_KINDS = ("embedded", "kafka")


def local_broker(kind: str) -> BrokerProcess:
    """A local broker of ``kind`` on a free port, not started."""
    if kind == "kafka":
        from streams.kafka_broker import KafkaBroker

        return KafkaBroker(port=0, startup_timeout=120, jars_dir=KAFKA_JARS, progress=False)
    from streams.embedded_broker import EmbeddedBroker

    return EmbeddedBroker(port=0, startup_timeout=60)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test that uses the ``broker`` fixture runs once per broker kind, unless it
    names its kinds with ``@pytest.mark.broker_kinds(...)``: the long fault and alert runs
    take Apache Kafka alone, the broker users run in production."""
    if "broker" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("broker_kinds")
    kinds = marker.args if marker is not None else BROKER_KINDS
    unknown = set(kinds) - set(BROKER_KINDS)
    if unknown:
        raise pytest.UsageError(f"{metafunc.definition.nodeid}: unknown broker kinds {unknown}")
    metafunc.parametrize("broker", kinds, indirect=True, scope="session")


@pytest.fixture(scope="session")
def broker(request: pytest.FixtureRequest) -> Iterator[BrokerProcess]:
    """A broker of the test's kind (see ``pytest_generate_tests``), one per kind for the
    whole run: the embedded one, and Apache Kafka from its pinned Maven Central jars."""
    with local_broker(request.param) as running:
        yield running


@pytest.fixture
def topic_name(request: pytest.FixtureRequest) -> str:
    """A topic name no other test uses."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", request.node.name).strip("-")[:60]
    return f"test.{slug}.{uuid.uuid4().hex[:8]}"


# --- processes -----------------------------------------------------------------------


@pytest.fixture(autouse=True)
def reap_processes() -> Iterator[None]:
    """Kill any ``finsent`` process a test started and left running."""
    from testkit.processes import STARTED

    yield
    while STARTED:
        STARTED.pop().kill()


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    """An environment for running ``finsent`` as a subprocess: no FINSENT_ leaks in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FINSENT_")}
    env["FINSENT_DATA_DIR"] = str(tmp_path / "data")
    env["FINSENT_BROKER_JARS_DIR"] = str(KAFKA_JARS)  # Apache Kafka's jars: downloaded once
    env["FINSENT_DATABASE_CONNECT_RETRIES"] = "0"
    env["PYTHONUNBUFFERED"] = "1"
    # Metrics endpoints off unless a test asks for one (several workers run at once).
    env["FINSENT_METRICS_WORKER_PORT"] = "0"
    env["FINSENT_METRICS_SCHEDULER_PORT"] = "0"
    # `finsent up` serves the read API too: a port of its own, not every test's 8000
    from streams.broker_process import free_port

    env["FINSENT_API_PORT"] = str(free_port())
    return env


# --- a model for the pipeline ------------------------------------------------------


@pytest.fixture(scope="session")
def pipeline_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real model with a one-layer MiniLM and a random head (the suite runs on two shared
    cores; the pipeline tests need a model that runs, the classifier's own tests train
    one)."""
    from testkit.classifier_support import random_head_model

    return random_head_model(tmp_path_factory.mktemp("pipeline-model"))


def pipeline_env(
    cli_env: dict[str, str], bootstrap_servers: str, pg_url: str, model: Path, partitions: int
) -> dict[str, str]:
    """``cli_env`` for a worker on these brokers and database, with topics of its own and
    the small batches and short texts the suite runs with."""
    from testkit.processes import unique_prefix

    cli_env.update(
        FINSENT_KAFKA_BOOTSTRAP_SERVERS=bootstrap_servers,
        FINSENT_KAFKA_TOPIC_PREFIX=unique_prefix(),
        FINSENT_KAFKA_PARTITIONS=str(partitions),
        FINSENT_DATABASE_URL=pg_url,
        FINSENT_MODEL_PATH=str(model),
        FINSENT_MODEL_VARIANT="fp32",
        FINSENT_MODEL_MAX_LENGTH="64",
        FINSENT_PIPELINE_BATCH_SIZE="128",
        FINSENT_PIPELINE_MAX_WAIT="0.3",
    )
    return cli_env


@pytest.fixture
def worker_env(
    cli_env: dict[str, str], broker: Any, pg_url: str, pipeline_model: Path
) -> dict[str, str]:
    """Environment for a worker on this run's broker and database, with its own topics."""
    return pipeline_env(cli_env, broker.bootstrap_servers, pg_url, pipeline_model, partitions=4)
