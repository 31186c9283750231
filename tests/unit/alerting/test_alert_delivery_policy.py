"""What each response means, when to retry, how it is signed, what each format sends."""

from __future__ import annotations

import itertools
import json
import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from standardwebhooks import Webhook

from alerts.delivery import (
    RetryPolicy,
    backoff,
    classify,
    next_probe,
    next_step,
    probe_targets,
    retry_after,
    signed_headers,
)
from alerts.formats import am_api_url, render, slack_escape
from storage.alerts import DeliveryJob
from tests.alerting_support import SECRET, receiver

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
JOB = DeliveryJob(1, "evt_1", "ops", {}, 0, NOW, NOW + timedelta(hours=1))


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, "delivered"),
        (204, "delivered"),
        (None, "retry"),
        (408, "retry"),
        (429, "retry"),
        (500, "retry"),
        (503, "retry"),
        (400, "failed"),
        (401, "failed"),
        (404, "failed"),
        (301, "failed"),
        (410, "disabled"),
    ],
)
def test_what_a_response_means(status: int | None, outcome: str) -> None:
    assert classify(status) == outcome


def test_backoff_doubles_up_to_the_cap_and_jitters_down() -> None:
    policy = RetryPolicy(base=5, max_delay=60, jitter=0.5)
    rng = random.Random(1)
    for attempt, full in [(1, 5), (2, 10), (3, 20), (4, 40), (5, 60), (9, 60)]:
        delays = [backoff(attempt, policy, rng) for _ in range(200)]
        assert all(full / 2 <= d <= full for d in delays)
        assert max(delays) - min(delays) > full / 4  # really jittered


def test_retry_after_in_seconds_or_as_a_date() -> None:
    assert retry_after("120", NOW) == 120
    assert retry_after(format_datetime(NOW + timedelta(seconds=30), usegmt=True), NOW) == 30
    assert retry_after("whenever", NOW) is None
    assert retry_after(None, NOW) is None


def test_retry_after_wins_over_a_shorter_backoff() -> None:
    step = next_step(
        JOB,
        429,
        "HTTP 429",
        started_at=NOW,
        duration_ms=3,
        retry_after_s=300,
        policy=RetryPolicy(base=1),
        rng=random.Random(0),
    )
    assert step.outcome == "retry" and step.next_attempt_at == NOW + timedelta(seconds=300)


def test_past_the_horizon_a_retry_becomes_a_failure() -> None:
    late = DeliveryJob(1, "evt_1", "ops", {}, 7, NOW, NOW + timedelta(seconds=10))
    step = next_step(
        late,
        503,
        "HTTP 503",
        started_at=NOW,
        duration_ms=3,
        retry_after_s=None,
        policy=RetryPolicy(base=60),
        rng=random.Random(0),
    )
    assert step.outcome == "failed" and step.next_attempt_at is None
    assert step.error == "gave up after 8 attempts: HTTP 503"


def test_headers_are_standard_webhooks_and_verify() -> None:
    r = receiver("ops", "https://example.com/hook")
    body = b'{"type":"alert.firing"}'
    now = datetime.now(UTC)
    headers = signed_headers(r, "evt_123", body, now)
    assert headers["webhook-id"] == "evt_123"
    assert headers["webhook-timestamp"] == str(int(now.timestamp()))
    assert headers["webhook-signature"].startswith("v1,")
    assert Webhook(SECRET).verify(body, headers) == {"type": "alert.firing"}
    with pytest.raises(Exception, match="signature"):
        Webhook(SECRET).verify(body + b" ", headers)


EVENT = {
    "id": "evt_1",
    "type": "alert.firing",
    "alert_id": "a1",
    "fingerprint": "negative_surge/acme",
    "status": "firing",
    "rule": "negative_surge",
    "kind": "negative_surge",
    "topic": "acme",
    "severity": "critical",
    "starts_at": "2026-03-02T12:00:00Z",
    "ends_at": None,
    "at": "2026-03-02T12:00:00Z",
    "summary": "Negative news surge on acme: <b>3</b> of 4 & more",
    "reason": "z=5",
    "headlines": [
        {"title": "Acme <falls> | hard", "url": "https://n.example/1?a=1|2", "source": "w"},
        {"title": "No link", "url": None, "source": "w"},
        {"title": "Evil link", "url": "javascript:alert(1)", "source": "w"},
    ],
    "dashboard_url": None,
}


def test_generic_is_a_standard_webhooks_event() -> None:
    url, body = render(
        receiver("g", "https://x.example/h"), EVENT, now=NOW, resend=timedelta(minutes=1)
    )
    assert url == "https://x.example/h"
    assert json.loads(body) == {"type": "alert.firing", "timestamp": EVENT["at"], "data": EVENT}


def test_alertmanager_webhook_v4_shape() -> None:
    _, body = render(
        receiver("am", "https://x.example/h", "alertmanager"),
        EVENT,
        now=NOW,
        resend=timedelta(minutes=1),
        external_url="http://finsent:8501",
    )
    payload = json.loads(body)
    assert payload["version"] == "4" and payload["receiver"] == "am"
    assert payload["groupKey"] == '{}:{alertname="negative_surge", topic="acme"}'
    (alert,) = payload["alerts"]
    assert alert["endsAt"] == "0001-01-01T00:00:00Z"
    assert alert["generatorURL"] == "http://finsent:8501"
    assert len(alert["fingerprint"]) == 16


def test_slack_text_never_carries_markup_from_headlines() -> None:
    _, body = render(
        receiver("s", "https://hooks.slack.example/T/B/x", "slack"),
        EVENT,
        now=NOW,
        resend=timedelta(minutes=1),
    )
    payload = json.loads(body)
    assert "&lt;b&gt;3&lt;/b&gt;" in payload["text"] and "&amp;" in payload["text"]
    links = payload["blocks"][2]["text"]["text"].splitlines()
    assert links[0] == "• <https://n.example/1?a=1%7C2|Acme &lt;falls&gt; | hard>"
    assert links[1:] == ["• No link", "• Evil link"]
    assert slack_escape("<@U123>") == "&lt;@U123&gt;"


def test_alertmanager_api_firing_expires_unless_resent_and_resolved_ends() -> None:
    r = receiver("api", "http://am.example:9093/", "alertmanager-api")
    url, body = render(r, EVENT, now=NOW, resend=timedelta(minutes=1))
    assert url == "http://am.example:9093/api/v2/alerts"
    (alert,) = json.loads(body)
    assert alert["endsAt"] == "2026-03-02T12:04:00Z" and "generatorURL" not in alert
    resolved = {**EVENT, "status": "resolved", "ends_at": "2026-03-02T12:30:00Z"}
    (alert,) = json.loads(render(r, resolved, now=NOW, resend=timedelta(minutes=1))[1])
    assert alert["endsAt"] == "2026-03-02T12:30:00Z"
    assert am_api_url("http://am:9093/api/v2/alerts") == "http://am:9093/api/v2/alerts"


def test_a_receiver_is_probed_at_most_once_per_interval() -> None:
    clock = 100.0
    not_before: dict[str, float] = {}
    probed = []
    for _ in range(100):  # 10 s, polled every 0.1 s
        for name in probe_targets(["ops"], not_before, set(), clock, limit=4):
            probed.append(clock)
            not_before[name] = next_probe(clock, 3.0)
        clock += 0.1
    assert probed[0] == 100.0  # never probed: at once
    assert len(probed) == 4
    assert all(b - a >= 3.0 - 1e-9 for a, b in itertools.pairwise(probed))


def test_a_refusal_or_retry_after_puts_the_next_probe_off() -> None:
    assert next_probe(100.0, 15.0) == 115.0
    assert next_probe(100.0, 15.0, retry_after_s=5.0) == 115.0  # never sooner
    assert next_probe(100.0, 15.0, retry_after_s=120.0) == 220.0  # Retry-After holds
    assert probe_targets(["ops"], {"ops": 220.0}, set(), 219.9, 1) == []
    assert probe_targets(["ops"], {"ops": 220.0}, set(), 220.0, 1) == ["ops"]


def test_probes_skip_busy_receivers_and_go_longest_waiting_first() -> None:
    not_before = {"a": 50.0, "b": 10.0, "c": 200.0}
    names = ["a", "b", "c", "d"]
    assert probe_targets(names, not_before, set(), 100.0, limit=4) == ["d", "b", "a"]
    assert probe_targets(names, not_before, {"d"}, 100.0, limit=4) == ["b", "a"]  # in flight
    assert probe_targets(names, not_before, set(), 100.0, limit=2) == ["d", "b"]
    assert probe_targets(names, not_before, set(), 100.0, limit=0) == []
