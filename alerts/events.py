"""The alert event: what a transition says, as plain JSON-able data.

The same dict is the value on the ``alerts`` topic, the ``data`` of a Standard Webhooks
event, and the source every receiver format is rendered from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from alerts.lifecycle import Transition
from alerts.rules import SCORE_NAMES, Observation, Rule, Totals, format_span

SCHEMA = 1


@dataclass(frozen=True, slots=True)
class Headline:
    title: str
    url: str | None
    source: str
    published_at: datetime
    label: str
    p_negative: float
    polarity: float
    confidence: float


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def _counts(t: Totals) -> dict[str, int]:
    return {
        "total": t.n,
        "negative": t.n_negative,
        "neutral": t.n_neutral,
        "positive": t.n_positive,
    }


def _number(value: float | None, digits: int = 4) -> float | None:
    return round(value, digits) if value is not None else None


def describe(obs: Observation, topic: str, status: str) -> str:
    """One line a person reads first."""
    if status == "resolved":
        return f"Resolved: {obs.rule} on {topic} ({obs.reason})"
    if obs.kind == "negative_surge":
        what = (
            f"Negative news surge on {topic}: {obs.window.n_negative} of {obs.window.n} "
            f"headlines negative ({(obs.value or 0):.0%}) vs {(obs.baseline or 0):.0%} usually"
        )
    elif obs.kind == "volume_spike":
        what = (
            f"News volume spike on {topic}: {obs.window.n} headlines vs "
            f"{(obs.baseline or 0):.1f} expected"
        )
    else:
        what = (
            f"Sentiment drop on {topic}: mean polarity {(obs.value or 0):+.2f} vs "
            f"{(obs.baseline or 0):+.2f} usually"
        )
    return f"{what} in the last {format_span(obs.window_end - obs.window_start)}"


def dashboard_link(base_url: str | None, topic: str) -> str | None:
    if not base_url:
        return None
    return f"{base_url.rstrip('/')}/?{urlencode({'topic': topic})}"


def test_event(topic: str, now: datetime) -> dict[str, Any]:
    """What ``finsent alerts test`` sends: an event of the same fields as
    ``build_event``'s, typed ``alert.test``, without numbers or headlines."""
    stamp = iso(now.replace(microsecond=0))
    return {
        "schema": SCHEMA,
        "id": f"evt_test_{int(now.timestamp())}",
        "type": "alert.test",
        "alert_id": "test",
        "fingerprint": f"test/{topic}",
        "status": "firing",
        "rule": "test",
        "kind": "negative_surge",
        "topic": topic,
        "severity": "info",
        "starts_at": stamp,
        "ends_at": None,
        "at": stamp,
        "summary": f"Test alert from finsent on {topic}: if you can read this, delivery works",
        "reason": "sent by `finsent alerts test`",
        "value": None,
        "baseline": None,
        "score": None,
        "score_name": SCORE_NAMES["negative_surge"],
        "threshold": 0.0,
        "exit_threshold": 0.0,
        "min_count": 0,
        "counts": {},
        "window": {},
        "baseline_window": {},
        "headlines": [],
        "dashboard_url": None,
    }


def build_event(
    t: Transition,
    rule: Rule,
    headlines: Sequence[Headline],
    dashboard_url: str | None = None,
) -> dict[str, Any]:
    """The event of one transition, JSON-able, with the numbers and the headlines."""
    obs = t.observation
    return {
        "schema": SCHEMA,
        "id": t.event_id,
        "type": f"alert.{t.status}",
        "alert_id": t.alert_id,
        "fingerprint": t.fingerprint,
        "status": t.status,
        "rule": t.rule,
        "kind": rule.kind,
        "topic": t.topic,
        "severity": rule.severity,
        "starts_at": iso(t.starts_at),
        "ends_at": iso(t.ends_at),
        "at": iso(t.at),
        "summary": describe(obs, t.topic, t.status),
        "reason": obs.reason,
        "value": _number(obs.value),
        "baseline": _number(obs.baseline),
        "score": _number(obs.score),
        "score_name": SCORE_NAMES[rule.kind],
        "threshold": obs.threshold,
        "exit_threshold": obs.exit_threshold,
        "min_count": rule.min_count,
        "counts": {"window": _counts(obs.window), "baseline": _counts(obs.base)},
        "window": {
            "start": iso(obs.window_start),
            "end": iso(obs.window_end),
            "seconds": int((obs.window_end - obs.window_start).total_seconds()),
        },
        "baseline_window": {
            "start": iso(obs.baseline_start),
            "end": iso(obs.window_start),
            "seconds": int((obs.window_start - obs.baseline_start).total_seconds()),
        },
        "headlines": [
            {
                "title": h.title,
                "url": h.url,
                "source": h.source,
                "published_at": iso(h.published_at),
                "label": h.label,
                "p_negative": round(h.p_negative, 4),
                "polarity": round(h.polarity, 4),
            }
            for h in headlines
        ],
        "dashboard_url": dashboard_link(dashboard_url, t.topic),
    }
