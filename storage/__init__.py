"""PostgreSQL storage: models, migrations and the functions that read and
write them, one module per feature (``articles``, ``alerts``, ``feeds``, ``workers``),
each owning its reads, writes and the plain data they return. Knows nothing of Kafka
or the model; plain data in, plain data out."""

from storage.alerts import AlertView, list_alerts
from storage.articles import (
    ArticleView,
    ScoredArticle,
    SeriesPoint,
    latest_articles,
    save_scored_batch,
    topic_series,
)
from storage.buckets import RESOLUTIONS, STORED_WIDTHS
from storage.db import EngineOptions, make_engine
from storage.exceptions import (
    DatabaseUnavailable,
    InvalidDatabaseURL,
    MigrationError,
    RejectedRecord,
    StorageError,
)
from storage.feeds import SourceHealthView, SourcePoll, record_source_poll, source_health
from storage.workers import AgentCounts, save_worker_counters

__all__ = [
    "RESOLUTIONS",
    "STORED_WIDTHS",
    "AgentCounts",
    "AlertView",
    "ArticleView",
    "DatabaseUnavailable",
    "EngineOptions",
    "InvalidDatabaseURL",
    "MigrationError",
    "RejectedRecord",
    "ScoredArticle",
    "SeriesPoint",
    "SourceHealthView",
    "SourcePoll",
    "StorageError",
    "latest_articles",
    "list_alerts",
    "make_engine",
    "record_source_poll",
    "save_scored_batch",
    "save_worker_counters",
    "source_health",
    "topic_series",
]
