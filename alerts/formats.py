"""What each receiver format puts on the wire. Pure: an event dict in, URL and body out.

- ``generic``: a Standard Webhooks event ``{type, timestamp, data}``;
- ``alertmanager``: the Alertmanager webhook (version 4) payload, so tools written for
  Alertmanager's webhooks accept ours;
- ``slack``: an incoming-webhook message (``text`` plus ``blocks``);
- ``alertmanager-api``: a list of one alert for Alertmanager's ``POST /api/v2/alerts``.
  A firing alert is sent with ``endsAt`` a few resend intervals ahead and re-sent while it
  fires (as Prometheus does), so Alertmanager resolves it by itself if we go away.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from alerts.config import Receiver
from alerts.events import iso

#: Alertmanager's "not set" time, used for endsAt of firing alerts in webhook payloads.
ZERO_TIME = "0001-01-01T00:00:00Z"
AM_API_PATH = "/api/v2/alerts"
MAX_HEADLINES = 5
MAX_TITLE = 200


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


def alert_labels(event: dict[str, Any]) -> dict[str, str]:
    return {
        "alertname": str(event["rule"]),
        "topic": str(event["topic"]),
        "severity": str(event["severity"]),
        "kind": str(event["kind"]),
        "service": "finsent",
    }


def alert_annotations(event: dict[str, Any]) -> dict[str, str]:
    out = {"summary": str(event["summary"]), "description": str(event["reason"])}
    heads = event.get("headlines") or []
    if heads:
        out["headlines"] = "\n".join(
            f"{h['title']} ({h['url']})" if h.get("url") else str(h["title"])
            for h in heads[:MAX_HEADLINES]
        )
    if event.get("dashboard_url"):
        out["dashboard"] = str(event["dashboard_url"])
    return out


def am_fingerprint(event: dict[str, Any]) -> str:
    return hashlib.sha256(str(event["fingerprint"]).encode()).hexdigest()[:16]


def generic(event: dict[str, Any]) -> dict[str, Any]:
    return {"type": event["type"], "timestamp": event["at"], "data": event}


def alertmanager_webhook(
    event: dict[str, Any], receiver: str, external_url: str | None
) -> dict[str, Any]:
    lab, ann = alert_labels(event), alert_annotations(event)
    alert: dict[str, Any] = {
        "status": event["status"],
        "labels": lab,
        "annotations": ann,
        "startsAt": event["starts_at"],
        "endsAt": event["ends_at"] or ZERO_TIME,
        "generatorURL": event.get("dashboard_url") or external_url or "",
        "fingerprint": am_fingerprint(event),
    }
    group = {"alertname": lab["alertname"], "topic": lab["topic"]}
    return {
        "version": "4",
        "groupKey": "{}:{" + ", ".join(f'{k}="{v}"' for k, v in group.items()) + "}",
        "truncatedAlerts": 0,
        "status": event["status"],
        "receiver": receiver,
        "groupLabels": group,
        "commonLabels": lab,
        "commonAnnotations": ann,
        "externalURL": external_url or "",
        "alerts": [alert],
    }


def slack_escape(text: str) -> str:
    """Slack mrkdwn control characters; scraped text is never markup."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack(event: dict[str, Any]) -> dict[str, Any]:
    icon = ":rotating_light:" if event["status"] == "firing" else ":white_check_mark:"
    summary = slack_escape(str(event["summary"]))
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"{icon} *{summary}*"}},
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": slack_escape(
                        f"{event['rule']} · {event['topic']} · {event['severity']} · "
                        f"{event['reason']}"
                    ),
                }
            ],
        },
    ]
    lines = []
    for h in (event.get("headlines") or [])[:MAX_HEADLINES]:
        title = slack_escape(_clip(str(h["title"]), MAX_TITLE))
        url = h.get("url")
        safe_url = url if isinstance(url, str) and url.startswith(("http://", "https://")) else None
        lines.append(f"• <{safe_url.replace('|', '%7C')}|{title}>" if safe_url else f"• {title}")
    if lines:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}})
    return {"text": f"{icon} {summary}", "blocks": blocks}


def alertmanager_api(
    event: dict[str, Any], now: datetime, resend: timedelta, external_url: str | None
) -> list[dict[str, Any]]:
    ends = event["ends_at"] if event["status"] == "resolved" else iso(now + resend * 4)
    alert: dict[str, Any] = {
        "labels": alert_labels(event),
        "annotations": alert_annotations(event),
        "startsAt": event["starts_at"],
        "endsAt": ends,
    }
    generator = event.get("dashboard_url") or external_url
    if generator:
        alert["generatorURL"] = generator
    return [alert]


def am_api_url(url: str) -> str:
    """The receiver URL with ``/api/v2/alerts`` appended unless it is already there."""
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    if not path.endswith(AM_API_PATH):
        path = f"{path}{AM_API_PATH}"
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


def render(
    receiver: Receiver,
    event: dict[str, Any],
    *,
    now: datetime,
    resend: timedelta,
    external_url: str | None = None,
) -> tuple[str, bytes]:
    """The URL to post to and the body, for this receiver's format."""
    if receiver.format == "generic":
        return receiver.url, dumps(generic(event))
    if receiver.format == "alertmanager":
        return receiver.url, dumps(alertmanager_webhook(event, receiver.name, external_url))
    if receiver.format == "slack":
        return receiver.url, dumps(slack(event))
    return am_api_url(receiver.url), dumps(alertmanager_api(event, now, resend, external_url))
