"""Running the Faust worker: topics first, then the app with its agents."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import faust

from streams.agents import Pipeline, register_agents
from streams.app import WorkerConfig, create_app
from streams.topics import ensure_topics

if TYPE_CHECKING:
    from streams.alerting.agent import AlertingRuntime

log = logging.getLogger(__name__)


def ensure_worker_topics(config: WorkerConfig) -> None:
    """Reach the broker and create the worker's topics if needed (before the model loads:
    a wrong bootstrap address fails in seconds, not after a minute of loading)."""
    created = ensure_topics(
        config.bootstrap_servers,
        config.topics.all(),
        config.partitions,
        config.replication_factor,
        min_insync_replicas=config.min_insync_replicas,
        timeout=config.connect_timeout,
    )
    if created:
        log.info("created topics: %s", ", ".join(created))


def run_worker(
    config: WorkerConfig,
    pipeline: Pipeline,
    loglevel: str = "INFO",
    alerting: AlertingRuntime | None = None,
) -> None:
    """Run the worker until SIGINT/SIGTERM (its topics exist: ``ensure_worker_topics``)."""
    if config.datadir:  # Faust creates its own folder inside, not the parents
        Path(config.datadir).mkdir(parents=True, exist_ok=True)
    app = create_app(config)
    register_agents(app, config, pipeline)
    if alerting is not None:
        from streams.alerting.agent import register_alerting

        register_alerting(app, config, alerting)
    # Faust would install its own log format beside finsent's (finsent.logs): keep ours.
    worker = faust.Worker(
        app, loglevel=loglevel, quiet=True, redirect_stdouts=False, override_logging=False
    )
    # Faust drops its terminal spinner while it sets up logging; it does not now, so drop
    # it here: its escape codes are noise in a log, and without it Faust logs "Ready".
    worker.spinner = None
    worker.execute_from_commandline()
