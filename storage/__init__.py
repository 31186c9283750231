"""PostgreSQL storage: models, migrations and the functions that read and
write them. Knows nothing of Kafka or the model; plain data in, plain data out."""

from storage.buckets import RESOLUTIONS, STORED_WIDTHS
from storage.db import EngineOptions, make_engine
from storage.exceptions import (
    DatabaseUnavailable,
    InvalidDatabaseURL,
    MigrationError,
    RejectedRecord,
    StorageError,
)
from storage.queries import latest_articles, list_alerts, source_health, topic_series
from storage.types import (
    AgentCounts,
    AlertView,
    ArticleView,
    ScoredArticle,
    SeriesPoint,
    SourceHealthView,
    SourcePoll,
)
from storage.writes import record_source_poll, save_scored_batch, save_worker_counters

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
