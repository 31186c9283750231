"""The composition root: turn settings into the plain values and live objects the
packages take. Each ``open_*`` builds one resource; a command builds each once and
passes it on (one engine per process: its pool serves every part of the command)."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from finsent.settings import Settings, SettingsError, env_var

if TYPE_CHECKING:
    from alerts.delivery import Deliverer
    from alerts.evaluator import AlertingConfig
    from api.config import ApiConfig
    from classifier.engine import Classifier
    from dashboard.config import DashboardConfig
    from entities.registry import Registry
    from sources.service import ServiceConfig
    from streams.agents import Pipeline
    from streams.alerting import AlertingRuntime
    from streams.app import WorkerConfig
    from streams.broker_process import BrokerProcess
    from streams.metrics import PipelineMetrics
    from streams.publish import Publisher
    from streams.tagging import Watchlist


log = logging.getLogger(__name__)

#: The database file of finsent before PostgreSQL became the only database.
OLD_SQLITE_FILE = "finsent.db"


def database_url(settings: Settings) -> str:
    """The configured database URL; unset, the embedded PostgreSQL server's, started (or
    joined) under the data directory for as long as this process lives."""
    if settings.database_url is not None:
        return settings.database_url
    from storage.embedded import start_embedded

    old = settings.general.data_dir / OLD_SQLITE_FILE
    if old.is_file():
        log.warning(
            "%s is the SQLite database of an older finsent, which this version no longer "
            "reads: finsent now keeps its data in PostgreSQL (embedded, under %s). Nothing "
            "was carried over; replay your feeds or `finsent up --demo` to fill the new "
            "database, and delete %s to silence this message.",
            old,
            settings.embedded_database,
            old,
        )
    return start_embedded(settings.embedded_database).render_as_string(hide_password=False)


def training_csvs(settings: Settings, profile: str | None = None) -> tuple[Path, Path]:
    """The training and validation CSVs: the configured pair, else the shipped ones (the
    tweets with a teacher's probabilities and news-like texts it labelled, the set for
    ``profile``, by default the configured training profile; the tweets' validation
    split)."""
    from finsent.datasets import distillation_csv, tfns_csv

    train, valid = settings.model.train_csv, settings.model.valid_csv
    if train is None and valid is None:
        return distillation_csv(profile or settings.model.train_profile), tfns_csv("valid")
    if train is None or valid is None:
        given, missing = ("train", "valid") if valid is None else ("valid", "train")
        raise SettingsError(
            f"a {given} CSV is given (--{given} / {env_var('model', given + '_csv')}) but "
            f"no {missing} CSV (--{missing} / {env_var('model', missing + '_csv')}): give "
            "both (columns text,label), or neither to train on the set that ships with "
            "finsent"
        )
    return train, valid


def open_engine(settings: Settings) -> Engine:
    """The database engine, connected (bounded retry) or a clear error naming the host."""
    from storage.db import EngineOptions, make_engine

    db = settings.database
    return make_engine(
        database_url(settings),
        EngineOptions(
            connect_retries=db.connect_retries,
            connect_retry_delay=db.connect_retry_delay,
            connect_timeout=db.connect_timeout,
            pool_size=db.pool_size,
            echo=db.echo,
        ),
    )


def engine_url(engine: Engine) -> str:
    """The URL ``engine`` connects to, password included, for a child process: it joins
    this database (an embedded server already started) rather than resolving it again."""
    return engine.url.render_as_string(hide_password=False)


def dashboard_config(settings: Settings, engine: Engine) -> DashboardConfig:
    """What the dashboard process needs, as plain values, on the database of ``engine``."""
    from dashboard.config import DashboardConfig

    db, dash = settings.database, settings.dashboard
    return DashboardConfig(
        database_url=engine_url(engine),
        refresh_interval=dash.refresh_interval,
        password=dash.password.get_secret_value() if dash.password else None,
        model_path=settings.model_path,
        model_device=settings.model.device,
        model_variant=settings.model.variant,
        companies_file=(
            str(settings.pipeline.companies) if settings.pipeline.companies is not None else None
        ),
        connect_retries=min(db.connect_retries, 2),
        connect_retry_delay=db.connect_retry_delay,
        connect_timeout=db.connect_timeout,
        pool_size=db.pool_size,
    )


def api_config(settings: Settings, engine: Engine) -> ApiConfig:
    """What the read API serves: the database of ``engine`` and the accepted tokens."""
    from api.auth import parse_tokens
    from api.config import ApiConfig
    from finsent import __version__

    token = settings.api.token
    return ApiConfig(
        engine=engine,
        tokens=parse_tokens(token.get_secret_value() if token is not None else None),
        version=__version__,
    )


def children_environ(settings: Settings, engine: Engine, bootstrap_servers: str) -> dict[str, str]:
    """The settings ``finsent up`` hands its children: the database (of ``engine``), the
    broker and the model it resolved, so that each child uses those, not its own."""
    return {
        env_var("kafka", "bootstrap_servers"): bootstrap_servers,
        env_var("database", "url"): engine_url(engine),
        env_var("model", "path"): settings.model_path,
    }


def local_broker(settings: Settings, *, progress: bool = True) -> BrokerProcess:
    """The broker finsent runs itself, of ``FINSENT_BROKER_KIND``; not started yet."""
    broker = settings.broker
    if broker.kind == "kafka":
        from streams.kafka_broker import KafkaBroker

        return KafkaBroker(
            host=broker.host,
            port=broker.port,
            startup_timeout=broker.startup_timeout,
            data_dir=settings.general.data_dir / "kafka",
            jars_dir=settings.kafka_jars_dir,
            repository=broker.maven_repository,
            progress=progress,
        )
    from streams.embedded_broker import EmbeddedBroker

    return EmbeddedBroker(
        host=broker.host, port=broker.port, startup_timeout=broker.startup_timeout
    )


@contextmanager
def running_local_broker(settings: Settings) -> Iterator[BrokerProcess]:
    """The local broker, started, with finsent's topics created before any client asks
    for one: the embedded broker forgets them on a restart and auto-creates a topic on
    the first metadata request with its own partition count (4), whatever the client
    asks (it ignores a request's auto-creation flag, and cannot add partitions later)."""
    with local_broker(settings) as broker:
        ensure_stream_topics(settings, broker.bootstrap_servers)
        yield broker


def ensure_stream_topics(
    settings: Settings, bootstrap_servers: str, names: list[str] | None = None
) -> list[str]:
    """finsent's topics (or ``names``) that did not exist, now created with the
    configured partitions, replicas and minimum in-sync replicas; those created."""
    from streams.topics import ensure_topics, topic_names

    kafka = settings.kafka
    return ensure_topics(
        bootstrap_servers,
        names if names is not None else topic_names(kafka.topic_prefix).all(),
        kafka.partitions,
        kafka.replication_factor,
        min_insync_replicas=kafka.min_insync_replicas,
        timeout=kafka.connect_timeout,
    )


def open_classifier(settings: Settings, path: str | None = None) -> Classifier:
    """The sentiment engine of ``path`` (unset: the model), loaded and ready, or a clear
    error naming the model path."""
    from classifier.loading import load_engine

    model = settings.model
    return load_engine(
        path or settings.model_path,
        device=model.device,
        variant=model.variant,
        batch_size=model.batch_size,
        max_length=model.max_length,
        threads=model.threads,
        labels=model.labels,
        ngram_weight=model.ngram_weight,
    )


def worker_config(settings: Settings) -> WorkerConfig:
    """The worker's plain configuration from settings."""
    from streams.app import WorkerConfig
    from streams.topics import topic_names

    kafka, pipeline = settings.kafka, settings.pipeline
    return WorkerConfig(
        app_id=f"{kafka.topic_prefix}{pipeline.group_id}",
        bootstrap_servers=settings.bootstrap_servers,
        topics=topic_names(kafka.topic_prefix),
        partitions=kafka.partitions,
        replication_factor=kafka.replication_factor,
        min_insync_replicas=kafka.min_insync_replicas,
        batch_size=pipeline.batch_size,
        max_wait=pipeline.max_wait,
        session_timeout=kafka.session_timeout,
        heartbeat_interval=kafka.heartbeat_interval,
        commit_interval=kafka.commit_interval,
        fetch_max_wait=kafka.fetch_max_wait,
        compression=kafka.compression,
        connect_timeout=kafka.connect_timeout,
        topic_check_interval=kafka.topic_check_interval,
        lag_interval=settings.metrics.lag_interval,
        send_timeout=kafka.publish_timeout,
        concurrency=pipeline.concurrency,
        prefetch_batches=pipeline.prefetch_batches,
        datadir=str(settings.general.data_dir / "faust"),
    )


def scheduler_config(settings: Settings, feeds_file: Path) -> ServiceConfig:
    """The scheduler's plain configuration from settings."""
    from sources.addresses import parse_networks
    from sources.http import FetchLimits
    from sources.scheduler import ScheduleOptions
    from sources.service import ServiceConfig

    s = settings.sources
    return ServiceConfig(
        feeds_file=feeds_file,
        limits=FetchLimits(
            user_agent=s.user_agent,
            connect_timeout=s.connect_timeout,
            read_timeout=s.read_timeout,
            deadline=s.fetch_deadline,
            max_bytes=s.max_bytes,
            max_redirects=s.max_redirects,
            host_delay=s.host_delay,
            robots_ttl=s.robots_ttl,
            allowed_networks=parse_networks(s.allowed_networks),
        ),
        schedule=ScheduleOptions(
            concurrency=s.concurrency, jitter_s=s.jitter, misfire_grace_s=s.misfire_grace
        ),
        max_backoff_s=s.max_backoff,
        dup_threshold=s.dup_threshold,
        dup_window_s=s.dup_window,
        dup_max_titles=s.dup_max_titles,
        remember_days=s.remember_days,
        watch_interval_s=s.watch_interval,
        republish_after_s=s.republish_after,
        republish_attempts=s.republish_attempts,
    )


def open_raw_publisher(settings: Settings, client_id: str) -> Publisher:
    """A producer to news.raw, the topic created first if needed (before any worker has:
    with the configured partitions, not the broker's default)."""
    from streams.publish import Publisher
    from streams.topics import topic_names

    kafka = settings.kafka
    topic = topic_names(kafka.topic_prefix).raw
    ensure_stream_topics(settings, settings.bootstrap_servers, [topic])
    return Publisher(
        settings.bootstrap_servers,
        topic,
        timeout=kafka.publish_timeout,
        connect_timeout=kafka.connect_timeout,
        compression=kafka.compression,
        client_id=client_id,
    )


def load_watchlist(settings: Settings) -> Watchlist:
    """The configured watchlist, else the one shipped with finsent; a clear error naming
    the line of a malformed one."""
    from streams.tagging import DEFAULT_WATCHLIST
    from streams.tagging import load_watchlist as load

    return load(settings.pipeline.watchlist or DEFAULT_WATCHLIST)


def load_companies(settings: Settings) -> Registry:
    """The company registry: the shipped one plus the user's companies file, if set; a
    clear error naming the line of a malformed one."""
    from entities.registry import load_registry

    extra = settings.pipeline.companies
    return load_registry(*([extra] if extra is not None else []))


def check_worker_inputs(settings: Settings) -> tuple[Watchlist, Registry]:
    """The worker's local inputs, checked in a moment before anything slow: the watchlist
    and the companies parse (returned, for ``open_pipeline``), the model directory is
    there (or a clear error saying how to train one)."""
    from classifier.loading import locate

    watchlist = load_watchlist(settings)
    registry = load_companies(settings)
    locate(settings.model_path)
    return watchlist, registry


def open_pipeline(
    settings: Settings,
    engine: Engine,
    inputs: tuple[Watchlist, Registry],
    metrics: PipelineMetrics,
) -> Pipeline:
    """Everything the agents need: the model, the watchlist and the company registry
    (``inputs``), the database writer (on ``engine``, the worker's one connection pool)."""
    from storage.articles import save_scored_batch_checked
    from storage.workers import save_worker_counters
    from streams.agents import Pipeline
    from streams.records import ModelRef
    from streams.scoring import EngineScorer, model_name, model_revision
    from streams.stages import Scorer

    def scorer(path: str) -> EngineScorer:
        ref = ModelRef(
            name=model_name(path), revision=model_revision(path, settings.model.ngram_weight)
        )
        return EngineScorer(open_classifier(settings, path), ref)

    by_language: dict[str, Scorer] = {}
    if (zh := settings.zh_model_path) is not None:
        by_language["zh"] = scorer(zh)
        log.info("Chinese items are scored by %s", zh)
    worker, started_at = f"{socket.gethostname()}:{os.getpid()}", datetime.now(UTC)
    return Pipeline(
        scorer=scorer(settings.model_path),
        by_language=by_language,
        watchlist=inputs[0],
        registry=inputs[1],
        save=lambda items: save_scored_batch_checked(engine, items),
        save_counters=lambda counts: save_worker_counters(engine, worker, started_at, counts),
        counters_interval=settings.metrics.flush_interval,
        max_retry_delay=settings.pipeline.retry_max_delay,
        metrics=metrics,
    )


def alerting_config(settings: Settings) -> AlertingConfig:
    """The rules, the receivers and the alerting knobs, loaded and checked."""
    from datetime import timedelta

    from alerts.config import load_receivers, load_rules
    from alerts.evaluator import AlertingConfig

    alerts = settings.alerts
    secret = alerts.secret.get_secret_value() if alerts.secret is not None else None
    return AlertingConfig(
        ruleset=load_rules(alerts.rules, load_companies(settings)),
        receivers=load_receivers(
            alerts.receivers, default_secret=secret, default_timeout=alerts.timeout
        ),
        settle=timedelta(seconds=alerts.settle),
        headlines=alerts.headlines,
        dashboard_url=alerts.dashboard_url,
        retry_horizon=timedelta(seconds=alerts.retry_horizon),
        resend=timedelta(seconds=alerts.resend),
        holder=f"{socket.gethostname()}:{os.getpid()}",
        clock=alerts.clock,
        idle=timedelta(seconds=alerts.idle),
    )


def open_deliverer(
    settings: Settings,
    engine: Engine,
    config: AlertingConfig,
    on_attempt: Callable[[str, str], None] | None = None,
) -> Deliverer:
    from alerts.delivery import Deliverer, RetryPolicy

    alerts = settings.alerts
    return Deliverer(
        engine,
        config,
        RetryPolicy(
            base=alerts.retry_base,
            max_delay=alerts.retry_max_delay,
            probe=alerts.retry_probe_interval,
        ),
        poll=alerts.delivery_poll,
        concurrency=alerts.delivery_concurrency,
        worker=config.holder,
        external_url=alerts.dashboard_url,
        on_attempt=on_attempt,
    )


def open_alerting(
    settings: Settings, engine: Engine, metrics: PipelineMetrics | None = None
) -> AlertingRuntime | None:
    """Alerting for the worker, on ``engine`` (the worker's one connection pool): the
    evaluation timer and/or the deliverer, or None when both are switched off."""
    from streams.alerting import AlertingRuntime

    alerts = settings.alerts
    if not alerts.enabled and not alerts.deliver:
        return None
    config = alerting_config(settings)
    deliver = alerts.deliver and bool(config.receivers)

    def count_attempt(receiver: str, outcome: str) -> None:
        if metrics is not None:
            metrics.webhook_attempts.labels(receiver, outcome).inc()

    def count_late(n: int) -> None:
        if metrics is not None:
            metrics.alert_late_items.inc(n)

    return AlertingRuntime(
        engine=engine,
        config=config,
        interval=alerts.interval,
        evaluate=alerts.enabled,
        on_late=count_late,
        deliverer=open_deliverer(settings, engine, config, count_attempt) if deliver else None,
    )
