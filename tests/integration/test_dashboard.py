"""Every dashboard page, run by Streamlit's AppTest on a seeded PostgreSQL database."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import streamlit as st
from sqlalchemy import Engine, insert
from streamlit.testing.v1 import AppTest

from dashboard.config import DashboardConfig
from storage.articles import EntityMention, ScoredArticle, save_scored_batch
from storage.models import AlertEvaluatorRow
from testkit.factories import article
from tests.dashboard_seed import BANKS_ALERT, OIL_ALERT, SCRIPT_TITLE, model_dir, seed

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"


@pytest.fixture
def configure(monkeypatch: pytest.MonkeyPatch, pg_url: str, tmp_path: Path) -> Iterator[Any]:
    """Hand the dashboard a configuration, as `finsent dashboard` does; fresh caches."""

    def apply(**changes: Any) -> DashboardConfig:
        values: dict[str, Any] = {
            "database_url": pg_url,
            "refresh_interval": 3600,
            "model_path": str(model_dir(tmp_path)),
            "connect_retries": 0,
        }
        config = DashboardConfig(**{**values, **changes})
        for name, value in config.to_environ().items():
            monkeypatch.setenv(name, value)
        st.cache_data.clear()
        st.cache_resource.clear()
        return config

    apply()
    yield apply
    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.fixture
def seeded(db: Engine, configure: Any) -> datetime:
    now = datetime.now(UTC)
    seed(db, now)
    return now


def run(page: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    if page is not None:
        at.switch_page(f"views/{page}.py").run()
        assert not at.exception, [e.value for e in at.exception]
    return at


def metric(at: AppTest, label: str) -> Any:
    found = [m for m in at.metric if m.label == label]
    assert found, [m.label for m in at.metric]
    return found[0]


def frame_with(at: AppTest, column: str) -> pd.DataFrame:
    for df in at.dataframe:
        if column in df.value.columns:
            return df.value
    raise AssertionError(f"no table with a {column!r} column")


def texts(at: AppTest) -> str:
    parts = [
        e.value
        for kind in ("markdown", "caption", "info", "error", "success", "warning")
        for e in getattr(at, kind)
    ]
    return "\n".join(str(p) for p in parts)


# --- overview ----------------------------------------------------------------------


def test_overview_shows_the_mood_the_topics_and_the_firing_alert(seeded: datetime) -> None:
    at = run()
    assert [t.value for t in at.title] == ["Overview"]
    polarity = metric(at, "Mean polarity, last hour")
    assert polarity.value == "-0.375"  # (3 x -0.75 + 0.75) / 4
    assert polarity.delta == "-0.696"  # against +0.321 = (4 x 0.75 - 0.75) / 7
    negative = metric(at, "Negative share, last hour")
    assert negative.value == "75.0 %"
    assert negative.delta == "+60.7 pt"  # 75.0 % against 1/7 = 14.3 %
    assert metric(at, "Articles, last hour").value == "4"  # the syndicated copy not counted

    firing = [e.value for e in at.error]
    assert len(firing) == 1 and "**oil**" in firing[0] and "negative\\-surge" in firing[0]

    table = frame_with(at, "volume by hour").set_index("topic")
    assert list(table.index) == ["oil", "market", "banks"]  # firing first, then busiest
    assert table.loc["oil", "alert"] == "firing (1)"
    assert table.loc["oil", "volume"] == 4
    assert table.loc["oil", "negative share"] == pytest.approx(100.0)  # shown as 100.0%
    assert table.loc["banks", "volume"] == 5
    assert table.loc["banks", "mean polarity"] == pytest.approx(0.75)
    assert table.loc["market", "volume"] == 11
    assert table.loc["market", "mean polarity"] == pytest.approx((-1.5 + 2.25) / 11)
    assert len(table.loc["oil", "volume by hour"]) == 24
    assert sum(table.loc["oil", "volume by hour"]) == 4
    assert at.get("vega_lite_chart"), "the heatmap is drawn"


def test_every_page_shows_the_empty_state_on_an_empty_database(db: Engine, configure: Any) -> None:
    for page in (None, "topic", "feed", "alerts"):
        at = run(page)
        assert "finsent up --demo" in texts(at), page
        assert not at.dataframe
    at = run("sources")
    assert "finsent up --demo" in texts(at)
    assert "No feed has been polled yet" in texts(at)


def test_an_unreachable_database_is_one_clear_line(configure: Any) -> None:
    configure(database_url="postgresql+psycopg://postgres@127.0.0.1:1/nowhere")
    at = run()
    assert len(at.error) == 1
    assert "Cannot read the database" in at.error[0].value
    assert "127\\.0\\.0\\.1\\:1" in at.error[0].value


# --- topic -------------------------------------------------------------------------


def test_topic_page_shows_the_series_and_the_headlines_behind_a_point(
    seeded: datetime,
) -> None:
    at = run("topic")
    assert at.multiselect(key="topics").value == ["market"]
    at.multiselect(key="topics").set_value(["oil"]).run()
    at.selectbox(key="range").set_value("last 24 hours").run()
    at.selectbox(key="resolution").set_value("1 hour").run()
    assert not at.exception
    points = at.selectbox(key="point")
    # oil had news in two or three hours (the last-hour items may straddle an hour)
    assert 2 <= len(points.options) <= 3
    assert all(" · oil · " in option for option in points.options)
    assert sum(int(o.split(" · ")[2].split()[0]) for o in points.options) == 4
    assert "oil negative\\-surge" in texts(at)  # the firing alert's period is listed

    # newest point first; its headlines are the last-hour oil stories, most negative first
    headlines = frame_with(at, "confidence")
    assert set(headlines["label"]) == {"negative"}
    assert (headlines["polarity"] < 0).all()
    assert set(headlines["source"]) <= {"wire-a", "wire-b"}
    assert "syndicate-x" not in set(headlines["source"])  # copies are not counted

    point = at.selectbox(key="point")
    point.select_index(
        len(point.options) - 1
    ).run()  # the oldest point: the OPEC story of 20 hours ago
    assert list(frame_with(at, "confidence")["title"]) == ["OPEC output row"]


def test_topic_page_opens_the_topic_an_alert_links_to(seeded: datetime) -> None:
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["topic"] = "banks"
    at.run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Topic"]
    assert at.multiselect(key="topics").value == ["banks"]


@pytest.mark.parametrize(
    ("companies", "shown", "warning"),
    [
        ("companies:\n  - {id: AAPL, name: Apple Computer}\n", "Apple Computer (AAPL)", None),
        ("companies: [AAPL]\n", "Apple Inc. (AAPL)", "each company must be a mapping"),
    ],
)
def test_topic_page_names_companies_from_the_users_companies_file(
    seeded: datetime,
    db: Engine,
    configure: Any,
    tmp_path: Path,
    companies: str,
    shown: str,
    warning: str | None,
) -> None:
    """The user's companies file renames a company (as the worker reads it); one that
    does not load leaves the shipped names and says why."""
    path = tmp_path / "companies.yaml"
    path.write_text(companies, encoding="utf-8")
    configure(companies_file=str(path))
    item = article(90, label="negative", published_at=seeded - timedelta(minutes=5))
    save_scored_batch(db, [replace(item, entities=(EntityMention("AAPL", 95),))])
    at = run("topic")
    options = at.multiselect(key="topics").options
    assert shown in options and "entity:AAPL" not in options
    warnings = [w.value for w in at.warning if "Company names" in w.value]
    assert [w for w in warnings if warning in w] if warning else not warnings


def test_topic_page_shows_a_company_filtered_by_relevance_and_novelty(
    seeded: datetime, db: Engine
) -> None:
    def naming(n: int, title: str, relevance: int, minutes: int) -> ScoredArticle:
        item = article(
            n, label="negative", published_at=seeded - timedelta(minutes=minutes), title=title
        )
        return replace(item, entities=(EntityMention("AAPL", relevance),))

    save_scored_batch(
        db,
        [
            naming(40, "Apple cuts iPhone orders", 95, 12),
            naming(41, "Apple cuts iPhone orders again", 95, 11),  # the same story
            naming(42, "Chip suppliers slide", 25, 10),
        ],
    )
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["topic"] = "entity:AAPL"  # where an alert on the company links
    at.run()
    assert not at.exception
    assert at.multiselect(key="topics").value == ["entity:AAPL"]
    assert "Apple Inc. (AAPL)" in at.multiselect(key="topics").options  # named, not by id
    at.selectbox(key="range").set_value("last 24 hours").run()
    at.selectbox(key="resolution").set_value("1 day").run()

    def articles() -> int:
        return sum(int(o.split(" · ")[2].split()[0]) for o in at.selectbox(key="point").options)

    assert articles() == 3
    at.selectbox(key="relevance").set_value("in the headline").run()
    assert articles() == 2
    at.checkbox(key="novel").check().run()
    assert not at.exception
    assert articles() == 1
    assert list(frame_with(at, "confidence")["title"]) == ["Apple cuts iPhone orders"]


# --- live feed ---------------------------------------------------------------------


def test_feed_lists_first_reports_newest_first_with_copies_folded(seeded: datetime) -> None:
    at = run("feed")
    feed = frame_with(at, "also reported by")
    assert len(feed) == 11  # every first report of the last 24 h; the copy is folded
    assert list(feed["published"]) == sorted(feed["published"], reverse=True)
    first = feed.iloc[0]
    assert first["title"] == "Oil prices plunge on glut"
    assert first["also reported by"] == "syndicate-x"
    assert first["link"] == "https://news.example/1"
    assert first["confidence"] == pytest.approx(0.8)
    assert "syndicate-x" not in set(feed["source"])


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("feed_label", "negative", 4),
        ("feed_topic", "banks", 5),
        ("feed_source", "wire-b", 3),
        ("feed_window", "last hour", 4),
    ],
)
def test_feed_filters(seeded: datetime, key: str, value: str, expected: int) -> None:
    at = run("feed")
    at.selectbox(key=key).set_value(value).run()
    feed = frame_with(at, "also reported by")
    assert len(feed) == expected
    column = {"feed_label": "label", "feed_source": "source"}.get(key)
    if column:
        assert set(feed[column]) == {value}
    if key == "feed_topic":
        assert all("banks" in t for t in feed["topics"])


def test_feed_text_filter_and_a_script_headline_stays_text(seeded: datetime) -> None:
    at = run("feed")
    at.text_input(key="feed_text").input("SLUMP").run()
    feed = frame_with(at, "also reported by")
    assert list(feed["title"]) == [SCRIPT_TITLE]
    # shown as a table cell, verbatim; never in an element that renders HTML
    assert not at.get("html")
    assert all(not m.allow_html for m in at.markdown)
    assert "<script>" not in texts(at)

    at.text_input(key="feed_text").input("no such words").run()
    assert "No headline matches these filters." in texts(at)


# --- alerts ------------------------------------------------------------------------


def test_alerts_page_shows_numbers_headlines_and_deliveries(seeded: datetime) -> None:
    at = run("alerts")
    assert metric(at, "Firing").value == "1"
    assert metric(at, "Resolved").value == "1"

    receivers = frame_with(at, "latest error").set_index("receiver")
    assert receivers.loc["ops-hook", "delivered"] == 1
    assert receivers.loc["chat", "failed"] == 1
    assert receivers.loc["chat", "latest error"] == "HTTP 500 from chat.example"

    alerts = frame_with(at, "threshold")
    assert list(alerts["status"]) == ["firing", "resolved"]
    oil = alerts.iloc[0]
    assert (oil["topic"], oil["value"], oil["baseline"], oil["threshold"]) == (
        "oil",
        0.75,
        0.14,
        0.5,
    )
    assert oil["window"] == "15 min"
    assert alerts.iloc[1]["duration (min)"] == 45.0

    assert at.text[0].value == "oil: negative share 75% against 14% baseline"
    headline_tables = [df.value for df in at.dataframe if "title" in df.value.columns]
    assert list(headline_tables[0]["title"]) == ["Oil prices plunge on glut"]
    deliveries = frame_with(at, "attempts")
    assert sorted(deliveries["receiver"]) == ["chat", "ops-hook"]
    assert set(deliveries["event id"]) == {"event-oil-firing"}
    # the resolved alert has no samples in its details: the topic's headlines instead
    assert "Most negative headlines on the topic while it fired:" in texts(at)
    assert BANKS_ALERT and OIL_ALERT


def test_alerts_page_shows_the_evaluator_and_its_late_items(seeded: datetime, db: Engine) -> None:
    at = run("alerts")
    assert metric(at, "Late items").value == "0"
    assert "The rules have not been evaluated yet." in [c.value for c in at.caption]
    with db.begin() as conn:
        conn.execute(
            insert(AlertEvaluatorRow).values(
                id=1, holder="worker-1", last_run_at=seeded, as_of=seeded, late_items=3
            )
        )
    st.cache_data.clear()
    at = run("alerts")
    assert metric(at, "Late items").value == "3"
    assert any("by worker\\-1" in c.value for c in at.caption)  # escaped for markdown


def test_alerts_status_filter(seeded: datetime) -> None:
    at = run("alerts")
    at.selectbox(key="status").set_value("resolved").run()
    assert metric(at, "Firing").value == "0"
    assert list(frame_with(at, "threshold")["topic"]) == ["banks"]
    at.selectbox(key="alerts_window").set_value("last 24 hours").run()
    assert "No alert started in this window." in texts(at)


# --- sources and model -------------------------------------------------------------


def test_sources_page_shows_feeds_model_and_counters(seeded: datetime) -> None:
    at = run("sources")
    health = frame_with(at, "failures in a row").set_index("feed")
    assert health.loc["broken-feed", "state"] == "failing"
    assert health.loc["broken-feed", "last error"] == "HTTP 404 Not Found"
    assert pd.isna(health.loc["broken-feed", "url"])  # a javascript: URL is not a link
    assert health.loc["markets-rss", "state"] == "ok"
    assert health.loc["markets-rss", "items seen"] == 120

    assert metric(at, "Processed").value == "1,998"
    assert metric(at, "Dead-lettered").value == "2"
    assert metric(at, "Model in use").value == "test-model"
    assert metric(at, "Revision").value == "r1"
    assert metric(at, "Accuracy").value == "0.866"
    assert metric(at, "Macro-F1").value == "0.831"
    figures = frame_with(at, "figure").set_index("figure")["value"]
    assert figures["accuracy on news_eval"] == "0.8795"  # the card's news set, shown
    assert figures["temperature"] == "1.87"
    assert metric(at, "Consumer lag").value == "42"
    counters = frame_with(at, "dead-lettered")
    assert sorted(counters["agent"]) == ["classify", "persist"]
    assert sorted(counters["lag"]) == [2, 40]


# --- access control ----------------------------------------------------------------


# The password itself is checked in front of every route, before Streamlit sees a
# request (dashboard/gate.py): tests/integration/test_dashboard_gate_http.py asks a real
# server over HTTP. Here: the app refuses a password that no gate enforces.


def test_a_password_without_the_gate_shows_nothing(seeded: datetime, configure: Any) -> None:
    configure(password="correct horse")
    at = run()
    assert not at.metric and not at.dataframe
    assert len(at.error) == 1
    assert "`finsent dashboard`" in at.error[0].value


def test_oidc_login_when_secrets_configure_auth(seeded: datetime) -> None:
    at = AppTest.from_file(APP, default_timeout=60)
    at.secrets["auth"] = {"redirect_uri": "http://localhost:8501/oauth2callback"}
    at.user = {"is_logged_in": False}
    at.run()
    assert [b.label for b in at.button] == ["Log in"]
    assert not at.metric
    at.user = {"is_logged_in": True, "email": "analyst@example.com"}
    at.run()
    assert "signed in as analyst@example.com" in texts(at)
    assert metric(at, "Articles, last hour").value == "4"
