"""Cached loaders: one engine per process (``st.cache_resource``), query results cached
for a short ttl (``st.cache_data``, the refresh interval) so that many browser tabs
cost the database one query per interval. Each loader calls ``storage`` and returns
plain data or a DataFrame from ``dashboard.frames``."""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import streamlit as st
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from core.errors import ConfigFileError, first_line
from dashboard import frames
from dashboard.config import DashboardConfig, from_environ
from storage import alerts as alert_store
from storage import articles as article_store
from storage import workers as worker_store
from storage.alerts import AlertView, EvaluatorStatus, evaluator_status, list_alerts
from storage.articles import latest_articles, topic_series
from storage.buckets import key_entity
from storage.db import EngineOptions, make_engine
from storage.exceptions import StorageError
from storage.feeds import source_health

Status = Literal["ready", "empty", "unmigrated", "unreachable"]

#: At most this many points per topic on the Topic page's chart.
MAX_POINTS = 2000
#: Topics in the overview's heatmap: those with firing alerts, then the busiest.
HEATMAP_TOPICS = 25


def now() -> datetime:
    return datetime.now(UTC)


@st.cache_resource(show_spinner=False)
def config() -> DashboardConfig:
    """What ``finsent dashboard`` handed over (read once per process)."""
    return from_environ(os.environ)


def _dispose(engine: Engine) -> None:
    engine.dispose()


@st.cache_resource(show_spinner=False, on_release=_dispose)
def _engine(url: str, options: tuple[int, float, float, int]) -> Engine:
    retries, delay, timeout, pool = options
    return make_engine(
        url,
        EngineOptions(
            connect_retries=retries,
            connect_retry_delay=delay,
            connect_timeout=timeout,
            pool_size=pool,
        ),
    )


def engine() -> Engine:
    c = config()
    return _engine(
        c.database_url,
        (c.connect_retries, c.connect_retry_delay, c.connect_timeout, c.pool_size),
    )


@st.cache_resource(show_spinner=False)
def company_names() -> dict[str, str]:
    """Each registry company's name by id: the shipped registry and the user's companies
    file over it. A file that does not load (the worker refuses it, naming its line)
    leaves the shipped names, and the page says so."""
    from entities.registry import load_registry

    path = config().companies_file
    try:
        registry = load_registry(*([Path(path)] if path else []))
    except (OSError, ConfigFileError, ValueError) as e:
        st.warning(f"Company names from the shipped registry only: {first_line(e)}")
        registry = load_registry()
    return {e.id: e.name for e in registry.entities}


@dataclass(frozen=True, slots=True)
class DatabaseState:
    status: Status
    message: str = ""


def database_state() -> DatabaseState:
    """Whether there is anything to show, and if not, why (never raises)."""
    try:
        eng = engine()
        if not article_store.schema_ready(eng):
            return DatabaseState("unmigrated")
        return DatabaseState("ready" if article_store.has_articles(eng) else "empty")
    except StorageError as e:
        return DatabaseState("unreachable", str(e))
    except SQLAlchemyError as e:
        return DatabaseState("unreachable", first_line(e))


# --- cached queries ------------------------------------------------------------------
# Cached functions take only hashable plain values; each builds "now" itself, so a
# cached answer is at most one ttl old.


def _mood() -> article_store.Mood:
    return article_store.market_mood(engine(), now())


def _topics() -> tuple[pd.DataFrame, pd.DataFrame]:
    summaries = article_store.topic_summaries(engine(), now())
    return frames.topics_frame(summaries), frames.heatmap_frame(summaries[:HEATMAP_TOPICS])


def _firing() -> list[AlertView]:
    return list_alerts(engine(), status="firing", limit=50)


def _topic_names() -> list[str]:
    return article_store.topic_names(engine())


def _entity_names() -> list[str]:
    return article_store.entity_names(engine())


def _languages() -> list[str]:
    return article_store.languages(engine())


def _source_names() -> list[str]:
    return article_store.source_names(engine())


def _series(
    topics: tuple[str, ...],
    range_s: int,
    resolution_s: int,
    min_relevance: int = 0,
    novel_only: bool = False,
    lang: str | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The series of ``topics`` (topics, or companies as ``entity:<id>``), from the
    buckets; from the articles when filtered by language, or a company's by relevance
    or novelty."""
    end = now()
    start = end - timedelta(seconds=range_s)
    points: list[article_store.SeriesPoint] = []
    for key in topics:
        entity_filtered = key_entity(key) is not None and (min_relevance > 0 or novel_only)
        if lang is not None or entity_filtered:
            points += article_store.filtered_series(
                engine(),
                key,
                start,
                end,
                resolution_s,
                min_relevance=min_relevance,
                novel_only=novel_only,
                lang=lang,
            )
        else:
            points += topic_series(engine(), [key], start, end, resolution_s)
    periods = alert_store.alerts_overlapping(engine(), topics, start, end)
    return frames.series_frame(points), frames.alert_periods_frame(periods, end)


def _headlines(
    topic: str,
    start: datetime,
    end: datetime,
    min_relevance: int = 0,
    novel_only: bool = False,
    lang: str | None = None,
) -> pd.DataFrame:
    return frames.headlines_frame(
        article_store.headlines_between(
            engine(),
            topic,
            start,
            end,
            limit=10,
            min_relevance=min_relevance,
            novel_only=novel_only,
            lang=lang,
        )
    )


def _feed(
    topic: str | None,
    label: str | None,
    source: str | None,
    text: str | None,
    since_s: int,
    limit: int,
    lang: str | None = None,
) -> pd.DataFrame:
    eng = engine()
    firsts = latest_articles(
        eng,
        topic=topic,
        label=label,
        source=source,
        text=text or None,
        since=now() - timedelta(seconds=since_s),
        include_duplicates=False,
        limit=limit,
        lang=lang,
    )
    copies = article_store.duplicates_of(eng, [a.id for a in firsts])
    return frames.articles_frame(firsts, copies)


def _alerts(status: str | None, days: int, limit: int) -> list[AlertView]:
    return list_alerts(engine(), status=status, since=now() - timedelta(days=days), limit=limit)


def _deliveries(since: datetime) -> list[alert_store.DeliveryView]:
    return alert_store.deliveries_since(engine(), since)


def _evaluator() -> EvaluatorStatus | None:
    return evaluator_status(engine())


def _receivers() -> pd.DataFrame:
    return frames.receivers_frame(alert_store.receiver_summaries(engine()))


def _health() -> pd.DataFrame:
    return frames.health_frame(source_health(engine()), now())


def _models() -> pd.DataFrame:
    return frames.models_frame(article_store.models_in_use(engine()))


def _freshness() -> article_store.Freshness:
    return article_store.freshness(engine())


def _counters() -> pd.DataFrame:
    return frames.counters_frame(worker_store.worker_counters(engine()), now())


@dataclass(frozen=True)
class Loaders:
    mood: Callable[[], article_store.Mood]
    topics: Callable[[], tuple[pd.DataFrame, pd.DataFrame]]
    firing: Callable[[], list[AlertView]]
    topic_names: Callable[[], list[str]]
    entity_names: Callable[[], list[str]]
    languages: Callable[[], list[str]]
    source_names: Callable[[], list[str]]
    series: Callable[
        [tuple[str, ...], int, int, int, bool, str | None], tuple[pd.DataFrame, pd.DataFrame]
    ]
    headlines: Callable[[str, datetime, datetime, int, bool, str | None], pd.DataFrame]
    feed: Callable[
        [str | None, str | None, str | None, str | None, int, int, str | None], pd.DataFrame
    ]
    alerts: Callable[[str | None, int, int], list[AlertView]]
    deliveries: Callable[[datetime], list[alert_store.DeliveryView]]
    evaluator: Callable[[], EvaluatorStatus | None]
    receivers: Callable[[], pd.DataFrame]
    health: Callable[[], pd.DataFrame]
    models: Callable[[], pd.DataFrame]
    freshness: Callable[[], article_store.Freshness]
    counters: Callable[[], pd.DataFrame]


@functools.cache
def _build(ttl: float) -> Loaders:
    def cached(fn: Callable[..., Any]) -> Any:
        return st.cache_data(ttl=ttl, show_spinner=False)(fn)

    return Loaders(
        mood=cached(_mood),
        topics=cached(_topics),
        firing=cached(_firing),
        topic_names=cached(_topic_names),
        entity_names=cached(_entity_names),
        languages=cached(_languages),
        source_names=cached(_source_names),
        series=cached(_series),
        headlines=cached(_headlines),
        feed=cached(_feed),
        alerts=cached(_alerts),
        deliveries=cached(_deliveries),
        evaluator=cached(_evaluator),
        receivers=cached(_receivers),
        health=cached(_health),
        models=cached(_models),
        freshness=cached(_freshness),
        counters=cached(_counters),
    )


def load() -> Loaders:
    """The cached loaders, with the configured refresh interval as their ttl."""
    return _build(config().refresh_interval)


@st.cache_data(ttl=60, show_spinner=False)
def model_card(path: str | None) -> dict[str, Any] | None:
    """The model card's metrics.json when the configured model is a readable directory."""
    if not path:
        return None
    file = Path(path).expanduser() / "metrics.json"
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
