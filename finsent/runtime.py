"""Turn settings into the plain values and live objects the packages take."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Engine

from finsent.settings import Settings

if TYPE_CHECKING:
    from classifier.engine import Engine as Classifier
    from streams.agents import Pipeline
    from streams.app import WorkerConfig


def open_engine(settings: Settings) -> Engine:
    """The database engine, connected (bounded retry) or a clear error naming the host."""
    from storage.db import EngineOptions, make_engine

    db = settings.database
    return make_engine(
        settings.database_url,
        EngineOptions(
            connect_retries=db.connect_retries,
            connect_retry_delay=db.connect_retry_delay,
            connect_timeout=db.connect_timeout,
            pool_size=db.pool_size,
            echo=db.echo,
        ),
    )


def open_classifier(settings: Settings) -> Classifier:
    """The sentiment engine, loaded and ready, or a clear error naming the model path."""
    from classifier.loading import load_engine

    model = settings.model
    return load_engine(
        settings.model_path,
        device=model.device,
        variant=model.variant,
        batch_size=model.batch_size,
        max_length=model.max_length,
        threads=model.threads,
        labels=model.labels,
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
        batch_size=pipeline.batch_size,
        max_wait=pipeline.max_wait,
        session_timeout=kafka.session_timeout,
        heartbeat_interval=kafka.heartbeat_interval,
        commit_interval=kafka.commit_interval,
        concurrency=pipeline.concurrency,
    )


def open_pipeline(settings: Settings) -> Pipeline:
    """Everything the agents need: the model, the watchlist, the database writer."""
    from storage.writes import save_scored_batch
    from streams.agents import Pipeline
    from streams.records import ModelRef
    from streams.scoring import EngineScorer, model_name, model_revision
    from streams.tagging import DEFAULT_WATCHLIST, load_watchlist

    watchlist = load_watchlist(settings.pipeline.watchlist or DEFAULT_WATCHLIST)
    engine = open_engine(settings)
    classifier = open_classifier(settings)
    ref = ModelRef(
        name=model_name(settings.model_path), revision=model_revision(settings.model_path)
    )
    return Pipeline(
        scorer=EngineScorer(classifier, ref),
        watchlist=watchlist,
        save=lambda items: save_scored_batch(engine, items),
        max_retry_delay=settings.pipeline.retry_max_delay,
    )
