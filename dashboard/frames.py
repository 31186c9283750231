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

from storage.types import AlertView, ArticleView, SeriesPoint, SourceHealthView
from storage.views import (
    DeliveryView,
    Headlines,
    ModelUse,
    ReceiverSummary,
    TopicSummary,
    WorkerCountersView,
)

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


def topics_frame(summaries: Sequence[TopicSummary]) -> pd.DataFrame:
    """One row per topic: volume, negative share, mean polarity, alert, and the hourly
    volumes for a sparkline."""
    rows = [
        {
            "topic": s.topic,
            "alert": f"firing ({s.firing_alerts})" if s.firing_alerts else "",
            "volume": s.total.n,
            "negative share": s.total.negative_share,
            "mean polarity": s.total.mean_polarity,
            "volume by hour": [p.n for p in s.points],
        }
        for s in summaries
    ]
    columns = ["topic", "alert", "volume", "negative share", "mean polarity", "volume by hour"]
    return pd.DataFrame(rows, columns=columns)


def heatmap_frame(summaries: Sequence[TopicSummary]) -> pd.DataFrame:
    """Long form topic x hour cells (mean polarity, volume), topics in the given order."""
    return series_frame([p for s in summaries for p in s.points])


def series_frame(points: Iterable[SeriesPoint]) -> pd.DataFrame:
    """A series in long form: topic, time, volume, counts, mean polarity, negative share."""
    rows = [
        {
            "topic": p.topic,
            "time": p.bucket_start,
            "volume": p.n,
            "negative": p.n_negative,
            "neutral": p.n_neutral,
            "positive": p.n_positive,
            "mean polarity": p.mean_polarity,
            "negative share": p.negative_share,
        }
        for p in points
    ]
    columns = [
        "topic",
        "time",
        "volume",
        "negative",
        "neutral",
        "positive",
        "mean polarity",
        "negative share",
    ]
    frame = pd.DataFrame(rows, columns=columns)
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    for name in ("mean polarity", "negative share"):
        frame[name] = frame[name].astype("float64")
    return frame


def articles_frame(
    articles: Sequence[ArticleView],
    copies: Mapping[str, Sequence[ArticleView]] | None = None,
) -> pd.DataFrame:
    """Headlines as rows: time, source, label, confidence, polarity, title, link, and,
    when ``copies`` is given, the other sources that reported the same story."""
    copies = copies or {}
    rows = []
    for a in articles:
        others = copies.get(a.id, ())
        rows.append(
            {
                "published": a.published_at,
                "source": a.source,
                "label": a.label,
                "confidence": a.confidence,
                "polarity": a.polarity,
                "title": a.title,
                "link": safe_link(a.url),
                "topics": ", ".join(a.topics),
                "also reported by": ", ".join(dict.fromkeys(c.source for c in others)),
            }
        )
    columns = [
        "published",
        "source",
        "label",
        "confidence",
        "polarity",
        "title",
        "link",
        "topics",
        "also reported by",
    ]
    frame = pd.DataFrame(rows, columns=columns)
    frame["published"] = pd.to_datetime(frame["published"], utc=True)
    return frame


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
    rows = []
    for a in alerts:
        end = a.ends_at or now
        rows.append(
            {
                "status": a.status,
                "topic": a.topic,
                "rule": a.rule,
                "severity": a.severity,
                "started": a.starts_at,
                "ended": a.ends_at,
                "duration (min)": round((end - a.starts_at).total_seconds() / 60, 1),
                "value": a.value,
                "baseline": a.baseline,
                "threshold": a.threshold,
                "window": _window(a.details),
            }
        )
    columns = [
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
    ]
    frame = pd.DataFrame(rows, columns=columns)
    for name in ("started", "ended"):
        frame[name] = pd.to_datetime(frame[name], utc=True)
    return frame


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
    rows = [
        {
            "topic": a.topic,
            "start": a.starts_at,
            "end": a.ends_at or now,
            "rule": a.rule,
            "status": a.status,
        }
        for a in alerts
    ]
    frame = pd.DataFrame(rows, columns=["topic", "start", "end", "rule", "status"])
    for name in ("start", "end"):
        frame[name] = pd.to_datetime(frame[name], utc=True)
    return frame


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
    rows = [
        {
            "receiver": d.receiver,
            "status": d.status,
            "attempts": d.attempts,
            "last HTTP status": d.last_status,
            "last error": d.last_error or "",
            "created": d.created_at,
            "delivered": d.delivered_at,
            "next attempt": d.next_attempt_at,
            "event id": d.event_id,
        }
        for d in deliveries
    ]
    columns = [
        "receiver",
        "status",
        "attempts",
        "last HTTP status",
        "last error",
        "created",
        "delivered",
        "next attempt",
        "event id",
    ]
    frame = pd.DataFrame(rows, columns=columns)
    for name in ("created", "delivered", "next attempt"):
        frame[name] = pd.to_datetime(frame[name], utc=True)
    return frame


def receivers_frame(summaries: Sequence[ReceiverSummary]) -> pd.DataFrame:
    rows = [
        {
            "receiver": s.receiver,
            "delivered": s.delivered,
            "pending": s.pending,
            "failed": s.failed,
            "disabled": s.disabled,
            "last delivered": s.last_delivered_at,
            "latest error": s.last_error or "",
        }
        for s in summaries
    ]
    columns = [
        "receiver",
        "delivered",
        "pending",
        "failed",
        "disabled",
        "last delivered",
        "latest error",
    ]
    frame = pd.DataFrame(rows, columns=columns)
    frame["last delivered"] = pd.to_datetime(frame["last delivered"], utc=True)
    return frame


def health_frame(health: Sequence[SourceHealthView], now: datetime) -> pd.DataFrame:
    rows = [
        {
            "feed": h.feed,
            "state": _feed_state(h),
            "last success": h.last_success_at,
            "minutes since success": (
                round((now - h.last_success_at).total_seconds() / 60, 1)
                if h.last_success_at
                else None
            ),
            "last fetch": h.last_fetch_at,
            "HTTP status": h.last_status,
            "failures in a row": h.consecutive_failures,
            "last error": h.last_error or "",
            "items seen": h.items_seen,
            "new": h.items_new,
            "duplicates": h.items_duplicate,
            "url": safe_link(h.url),
        }
        for h in health
    ]
    columns = [
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
    ]
    frame = pd.DataFrame(rows, columns=columns)
    for name in ("last success", "last fetch"):
        frame[name] = pd.to_datetime(frame[name], utc=True)
    return frame


def _feed_state(h: SourceHealthView) -> str:
    if h.consecutive_failures:
        return "failing"
    if h.last_success_at is None:
        return "never fetched"
    return "ok"


def models_frame(models: Sequence[ModelUse]) -> pd.DataFrame:
    rows = [
        {
            "model": m.name,
            "revision": m.revision,
            "articles (of the newest)": m.articles,
            "last scored": m.last_scored_at,
        }
        for m in models
    ]
    columns = ["model", "revision", "articles (of the newest)", "last scored"]
    frame = pd.DataFrame(rows, columns=columns)
    frame["last scored"] = pd.to_datetime(frame["last scored"], utc=True)
    return frame


def counters_frame(counters: Sequence[WorkerCountersView], now: datetime) -> pd.DataFrame:
    rows = [
        {
            "worker": c.worker,
            "agent": c.agent,
            "processed": c.processed,
            "dead-lettered": c.dead_lettered,
            "retried": c.retried,
            "batches": c.batches,
            "started": c.started_at,
            "updated": c.updated_at,
            "seconds since update": round((now - c.updated_at).total_seconds(), 1),
        }
        for c in counters
    ]
    columns = [
        "worker",
        "agent",
        "processed",
        "dead-lettered",
        "retried",
        "batches",
        "started",
        "updated",
        "seconds since update",
    ]
    frame = pd.DataFrame(rows, columns=columns)
    for name in ("started", "updated"):
        frame[name] = pd.to_datetime(frame[name], utc=True)
    return frame


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
    hardware = metrics.get("hardware")
    if isinstance(hardware, Mapping) and hardware.get("device"):
        out["trained on"] = hardware["device"]
    return out
