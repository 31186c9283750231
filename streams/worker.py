"""Running the Faust worker: topics first, then the app with its agents."""

from __future__ import annotations

import logging

import faust

from streams.agents import Pipeline, register_agents
from streams.app import WorkerConfig, create_app
from streams.topics import ensure_topics

log = logging.getLogger(__name__)


def run_worker(config: WorkerConfig, pipeline: Pipeline, loglevel: str = "INFO") -> None:
    """Create the topics if needed, then run the worker until SIGINT/SIGTERM."""
    created = ensure_topics(config.bootstrap_servers, config.topics.all(), config.partitions)
    if created:
        log.info("created topics: %s", ", ".join(created))
    app = create_app(config)
    register_agents(app, config, pipeline)
    worker = faust.Worker(app, loglevel=loglevel, quiet=True, redirect_stdouts=False)
    worker.execute_from_commandline()
