"""The dashboard's pure pieces: frames from plain data, the hand-over, safe text."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from dashboard.common import plain, topic_label
from dashboard.config import RUNTIME_ENV, DashboardConfig, from_environ
from dashboard.exceptions import DashboardError
from dashboard.frames import (
    alert_summary,
    alerts_frame,
    headlines_frame,
    safe_link,
    sample_headlines,
)
from storage.alerts import AlertView, DeliveryView, match_deliveries
from storage.articles import ArticleView, Headlines

T = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def view(n: int, polarity: float) -> ArticleView:
    return ArticleView(
        id=f"a{n}",
        source="wire",
        url=f"https://x.example/{n}",
        title=f"title {n}",
        published_at=T + timedelta(minutes=n),
        label="negative" if polarity < 0 else "positive",
        p_negative=max(0.0, -polarity),
        p_neutral=0.1,
        p_positive=max(0.0, polarity),
        polarity=polarity,
        model_name="m",
        topics=("oil",),
        tickers=(),
        duplicate_of=None,
    )


def alert(**details: object) -> AlertView:
    return AlertView(
        id="al1",
        fingerprint="rule:oil",
        rule="rule",
        topic="oil",
        severity="warning",
        status="resolved",
        starts_at=T,
        ends_at=T + timedelta(minutes=30),
        updated_at=T,
        value=0.7,
        baseline=0.2,
        threshold=0.5,
        details=dict(details),
    )


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://news.example/a?b=1", "https://news.example/a?b=1"),
        ("http://news.example", "http://news.example"),
        ("javascript:alert(1)", None),
        ("data:text/html,<script>x</script>", None),
        ("//evil.example/x", None),
        ("", None),
        (None, None),
        ("http://[::1", None),
    ],
)
def test_only_http_links_are_links(url: str | None, expected: str | None) -> None:
    assert safe_link(url) == expected


def test_headlines_most_negative_first_then_most_positive() -> None:
    found = Headlines(
        most_negative=(view(1, -0.9), view(2, -0.5), view(3, 0.2)),
        most_positive=(view(4, 0.8), view(3, 0.2), view(2, -0.5)),
    )
    frame = headlines_frame(found)
    assert list(frame["polarity"]) == [-0.9, -0.5, 0.8, 0.2]
    assert list(frame["link"]) == [
        "https://x.example/1",
        *(f"https://x.example/{n}" for n in (2, 4, 3)),
    ]


def test_an_alerts_event_details_give_its_headlines_window_and_summary() -> None:
    details = {
        "firing": {
            "summary": "oil: negative share 70%",
            "window": {"seconds": 900},
            "headlines": [
                {"title": "Oil slumps", "source": "w", "url": "javascript:x", "polarity": -0.8},
                "a bare headline",
            ],
        },
        "resolved": {"summary": "oil: back to normal"},
    }
    samples = sample_headlines(details)
    assert samples is not None
    assert list(samples["title"]) == ["Oil slumps", "a bare headline"]
    assert samples["link"].isna().all()
    assert alert_summary(details) == "oil: back to normal"
    frame = alerts_frame([alert(**details)], T + timedelta(hours=1))
    assert frame.iloc[0]["window"] == "15 min"
    assert frame.iloc[0]["duration (min)"] == 30.0
    assert sample_headlines({}) is None
    assert sample_headlines({"headlines": "not a list"}) is None


def test_deliveries_are_matched_to_their_alert_by_id_or_payload() -> None:
    a = alert()

    def delivery(event_id: str, payload: dict[str, object]) -> DeliveryView:
        return DeliveryView(1, event_id, "ops", "delivered", 1, 200, None, T, T, None, payload)

    matched = match_deliveries(
        [a],
        [
            delivery("e1", {"alert_id": "al1"}),
            delivery("al1", {}),
            delivery("e3", {"fingerprint": "rule:oil", "starts_at": "2026-03-02T09:00:00Z"}),
            delivery("e4", {"alert_id": "another"}),
            delivery("e5", {"fingerprint": "rule:oil", "starts_at": "garbage"}),
        ],
    )
    assert [d.event_id for d in matched["al1"]] == ["e1", "al1", "e3"]


def test_plain_escapes_markdown_and_html() -> None:
    hostile = "[click](javascript:x) **bold** <b>tag</b> :red[x] $x$"
    escaped = plain(hostile)
    assert "\\[click\\]\\(javascript\\:x\\)" in escaped
    assert "\\*\\*bold\\*\\*" in escaped and "\\<b\\>" in escaped and "\\$x\\$" in escaped


def test_companies_are_shown_by_name_and_topics_as_they_are() -> None:
    names = {"AAPL": "Apple Inc.", "SAP.DE": "SAP"}
    assert topic_label("entity:SAP.DE", names) == "SAP (SAP.DE)"
    assert topic_label("entity:GONE", names) == "entity:GONE"  # no longer in the registry
    assert topic_label("banks", names) == "banks"
    assert topic_label("AAPL", names) == "AAPL"  # a topic named like an id stays a topic


def test_the_hand_over_round_trips_and_says_what_is_wrong() -> None:
    config = DashboardConfig(
        database_url="postgresql://h/db",
        refresh_interval=3.0,
        password="p",
        companies_file="/etc/finsent/companies.yaml",
    )
    assert from_environ(config.to_environ()) == config
    with pytest.raises(DashboardError, match="finsent dashboard"):
        from_environ({})
    with pytest.raises(DashboardError, match="not valid JSON"):
        from_environ({RUNTIME_ENV: "{"})
    with pytest.raises(DashboardError, match="database_url"):
        from_environ({RUNTIME_ENV: json.dumps({"refresh_interval": 3})})
