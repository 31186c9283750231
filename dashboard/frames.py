"""Plain data from ``storage`` turned into the DataFrames the pages show: pure functions.

Every text that came from a feed stays a plain string in a column: the pages show
these frames with ``st.dataframe`` (which renders cells as text), never as HTML.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import pandas as pd

from storage.alerts import AlertView, DeliveryView, ReceiverSummary
from storage.articles import ArticleView, Headlines, ModelUse, SeriesPoint, TopicSummary
from storage.feeds import SourceHealthView
from storage.workers import WorkerCountersView

#: Keys of an alert's ``details`` that may hold the headlines that drove it.
SAMPLE_KEYS = ("samples", "sample_headlines", "headlines")


def safe_link(url: str | None) -> str | None:
    """The URL if it is an http(s) link, else nothing (no javascript:, data:, ...)."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    return url.strip() if parts.scheme in ("http", "https") and parts.netloc else None


def _table(
    columns: Sequence[str],
    rows: Iterable[tuple[Any, ...]],
    *,
    times: Iterable[str] = (),
    floats: Iterable[str] = (),
) -> pd.DataFrame:
    """A frame with these columns (also when there are no rows) from rows given as
    tuples in column order; the ``times`` columns as UTC datetimes, ``floats`` as float64."""
    frame = pd.DataFrame(list(rows), columns=list(columns))
    for name in times:
        frame[name] = pd.to_datetime(frame[name], utc=True)
    for name in floats:
        frame[name] = frame[name].astype("float64")
    return frame


def topics_frame(summaries: Sequence[TopicSummary]) -> pd.DataFrame:
    """One row per topic: volume, negative share, mean polarity, alert, and the hourly
    volumes for a sparkline."""
    columns = ("topic", "alert", "volume", "negative share", "mean polarity", "volume by hour")
    rows = (
        (
            s.topic,
            f"firing ({s.firing_alerts})" if s.firing_alerts else "",
            s.total.n,
            s.total.negative_share,
            s.total.mean_polarity,
            [p.n for p in s.points],
        )
        for s in summaries
    )
    return _table(columns, rows)


def heatmap_frame(summaries: Sequence[TopicSummary]) -> pd.DataFrame:
    """Long form topic x hour cells (mean polarity, volume), topics in the given order."""
    return series_frame([p for s in summaries for p in s.points])


def series_frame(points: Iterable[SeriesPoint]) -> pd.DataFrame:
    """A series in long form: topic, time, volume, counts, mean polarity, negative share."""
    columns = (
        "topic",
        "time",
        "volume",
        "negative",
        "neutral",
        "positive",
        "mean polarity",
        "negative share",
    )
    rows = (
        (
            p.topic,
            p.bucket_start,
            p.n,
            p.n_negative,
            p.n_neutral,
            p.n_positive,
            p.mean_polarity,
            p.negative_share,
        )
        for p in points
    )
    return _table(columns, rows, times=("time",), floats=("mean polarity", "negative share"))


def articles_frame(
    articles: Sequence[ArticleView],
    copies: Mapping[str, Sequence[ArticleView]] | None = None,
) -> pd.DataFrame:
    """Headlines as rows: time, source, label, confidence, polarity, title, link, and,
    when ``copies`` is given, the other sources that reported the same story."""
    copies = copies or {}
    columns = (
        "published",
        "source",
        "label",
        "confidence",
        "polarity",
        "title",
        "link",
        "topics",
        "also reported by",
    )
    rows = (
        (
            a.published_at,
            a.source,
            a.label,
            a.confidence,
            a.polarity,
            a.title,
            safe_link(a.url),
            ", ".join(a.topics),
            ", ".join(dict.fromkeys(c.source for c in copies.get(a.id, ()))),
        )
        for a in articles
    )
    return _table(columns, rows, times=("published",))


def headlines_frame(headlines: Headlines) -> pd.DataFrame:
    """Most negative first, then most positive (each article once)."""
    seen: set[str] = set()
    ordered: list[ArticleView] = []
    for a in [*headlines.most_negative, *reversed(headlines.most_positive)]:
        if a.id not in seen:
            seen.add(a.id)
            ordered.append(a)
    negatives = [a for a in ordered if (a.polarity or 0.0) < 0]
    rest = [a for a in ordered if (a.polarity or 0.0) >= 0]
    rest.sort(key=lambda a: -(a.polarity or 0.0))
    return articles_frame([*negatives, *rest])


def alerts_frame(alerts: Sequence[AlertView], now: datetime) -> pd.DataFrame:
    """Alerts with their numbers: observed value, baseline, threshold, window, duration."""
    columns = (
        "status",
        "topic",
        "rule",
        "severity",
        "started",
        "ended",
        "duration (min)",
        "value",
        "baseline",
        "threshold",
        "window",
    )
    rows = (
        (
            a.status,
            a.topic,
            a.rule,
            a.severity,
            a.starts_at,
            a.ends_at,
            round(((a.ends_at or now) - a.starts_at).total_seconds() / 60, 1),
            a.value,
            a.baseline,
            a.threshold,
            _window(a.details),
        )
        for a in alerts
    )
    return _table(columns, rows, times=("started", "ended"))


def _window(details: Mapping[str, Any]) -> str:
    for place in event_details(details):
        value = place.get("window")
        if isinstance(value, Mapping):
            value = value.get("seconds")
        if isinstance(value, int | float) and not isinstance(value, bool):
            return f"{value / 60:g} min" if value % 60 == 0 else f"{value:g} s"
    return ""


def alert_summary(details: Mapping[str, Any]) -> str:
    """The one-line summary the alert's event carries, if any."""
    for place in reversed(event_details(details)):
        for key in ("summary", "reason"):
            value = place.get(key)
            if isinstance(value, str) and value:
                return value
    return ""


def alert_periods_frame(alerts: Sequence[AlertView], now: datetime) -> pd.DataFrame:
    """Shaded spans for a chart: topic, start, end (now while firing), rule, status."""
    columns = ("topic", "start", "end", "rule", "status")
    rows = ((a.topic, a.starts_at, a.ends_at or now, a.rule, a.status) for a in alerts)
    return _table(columns, rows, times=("start", "end"))


def event_details(details: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The places an alert's details may hold its event: the details themselves and the
    events stored under ``firing`` and ``resolved``."""
    out: list[Mapping[str, Any]] = [details]
    for key in ("firing", "resolved"):
        nested = details.get(key)
        if isinstance(nested, Mapping):
            out.append(nested)
    return out


def sample_headlines(details: Mapping[str, Any]) -> pd.DataFrame | None:
    """The headlines an alert's details carry (strings or objects), as rows; None when
    the details name none."""
    samples: list[Any] = []
    for place in event_details(details):
        for key in SAMPLE_KEYS:
            found = place.get(key)
            if isinstance(found, list) and found:
                samples = found
                break
        if samples:
            break
    if not samples:
        return None
    rows: list[dict[str, Any]] = []
    for sample in samples:
        if isinstance(sample, str):
            rows.append({"title": sample})
        elif isinstance(sample, Mapping):
            rows.append(
                {
                    "published": str(sample.get("published_at") or ""),
                    "source": str(sample.get("source") or ""),
                    "label": str(sample.get("label") or ""),
                    "polarity": _number(sample.get("polarity")),
                    "title": str(sample.get("title") or ""),
                    "link": safe_link(
                        sample.get("url") if isinstance(sample.get("url"), str) else None
                    ),
                }
            )
    return pd.DataFrame(rows) if rows else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    return float(value) if isinstance(value, int | float) else None


def deliveries_frame(deliveries: Sequence[DeliveryView]) -> pd.DataFrame:
    columns = (
        "receiver",
        "status",
        "attempts",
        "last HTTP status",
        "last error",
        "created",
        "delivered",
        "next attempt",
        "event id",
    )
    rows = (
        (
            d.receiver,
            d.status,
            d.attempts,
            d.last_status,
            d.last_error or "",
            d.created_at,
            d.delivered_at,
            d.next_attempt_at,
            d.event_id,
        )
        for d in deliveries
    )
    return _table(columns, rows, times=("created", "delivered", "next attempt"))


def receivers_frame(summaries: Sequence[ReceiverSummary]) -> pd.DataFrame:
    columns = (
        "receiver",
        "delivered",
        "pending",
        "failed",
        "disabled",
        "last delivered",
        "latest error",
    )
    rows = (
        (
            s.receiver,
            s.delivered,
            s.pending,
            s.failed,
            s.disabled,
            s.last_delivered_at,
            s.last_error or "",
        )
        for s in summaries
    )
    return _table(columns, rows, times=("last delivered",))


def health_frame(health: Sequence[SourceHealthView], now: datetime) -> pd.DataFrame:
    columns = (
        "feed",
        "state",
        "last success",
        "minutes since success",
        "last fetch",
        "HTTP status",
        "failures in a row",
        "last error",
        "items seen",
        "new",
        "duplicates",
        "url",
    )
    rows = (
        (
            h.feed,
            _feed_state(h),
            h.last_success_at,
            _minutes_since(h.last_success_at, now),
            h.last_fetch_at,
            h.last_status,
            h.consecutive_failures,
            h.last_error or "",
            h.items_seen,
            h.items_new,
            h.items_duplicate,
            safe_link(h.url),
        )
        for h in health
    )
    return _table(columns, rows, times=("last success", "last fetch"))


def _minutes_since(then: datetime | None, now: datetime) -> float | None:
    return round((now - then).total_seconds() / 60, 1) if then else None


def _feed_state(h: SourceHealthView) -> str:
    if h.consecutive_failures:
        return "failing"
    if h.last_success_at is None:
        return "never fetched"
    return "ok"


def models_frame(models: Sequence[ModelUse]) -> pd.DataFrame:
    columns = ("model", "revision", "articles (of the newest)", "last scored")
    rows = ((m.name, m.revision, m.articles, m.last_scored_at) for m in models)
    return _table(columns, rows, times=("last scored",))


def counters_frame(counters: Sequence[WorkerCountersView], now: datetime) -> pd.DataFrame:
    columns = (
        "worker",
        "agent",
        "processed",
        "dead-lettered",
        "retried",
        "batches",
        "lag",
        "started",
        "updated",
        "seconds since update",
    )
    rows = (
        (
            c.worker,
            c.agent,
            c.processed,
            c.dead_lettered,
            c.retried,
            c.batches,
            c.lag,
            c.started_at,
            c.updated_at,
            round((now - c.updated_at).total_seconds(), 1),
        )
        for c in counters
    )
    return _table(columns, rows, times=("started", "updated"))


def group_lag(counters: pd.DataFrame, stale_s: float) -> int | None:
    """The consumer group's lag: the sum of the lag the worker agents reported within
    ``stale_s`` seconds (each over the partitions it holds); None when none did."""
    if counters.empty:
        return None
    fresh = counters[(counters["seconds since update"] <= stale_s) & counters["lag"].notna()]
    return None if fresh.empty else int(fresh["lag"].sum())


def card_metrics(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """The figures of a model card's metrics.json worth showing, flat."""
    out: dict[str, Any] = {}
    for key in ("accuracy", "macro_f1", "best_epoch", "base_model", "created_at"):
        if key in metrics:
            out[key] = metrics[key]
    per_class = metrics.get("per_class")
    if isinstance(per_class, Mapping):
        for label, scores in per_class.items():
            if isinstance(scores, Mapping) and "f1" in scores:
                out[f"F1 {label}"] = scores["f1"]
    checks = metrics.get("checks")
    if isinstance(checks, Mapping):  # the held-apart sets, the shipped news set first
        for name, check in checks.items():
            if isinstance(check, Mapping) and "accuracy" in check:
                out[f"accuracy on {name}"] = check["accuracy"]
    calibration = metrics.get("calibration")
    if isinstance(calibration, Mapping) and calibration.get("served") is not None:
        out["temperature"] = calibration["served"]
    hardware = metrics.get("hardware")
    if isinstance(hardware, Mapping) and hardware.get("device"):
        out["trained on"] = hardware["device"]
    return out
