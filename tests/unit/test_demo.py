"""The demo file: real headlines, a synthetic clock, one planted negative surge."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.errors import ConfigFileError
from entities.registry import load_registry
from finsent.datasets import tfns_csv
from sources.demo import LabelledHeadline, build_demo, companies_named, read_labelled
from streams.tagging import load_watchlist, tag

START = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
WATCHLIST = load_watchlist()


def headlines() -> list[LabelledHeadline]:
    oil = [LabelledHeadline(f"Oil prices slump as demand fears grow {n}", True) for n in range(30)]
    fed = [LabelledHeadline(f"Fed official warns on inflation {n}", True) for n in range(5)]
    calm = [LabelledHeadline(f"Shares edge higher in quiet trade {n}", False) for n in range(400)]
    return oil + fed + calm


def test_the_surge_is_the_topic_with_most_negative_news_packed_in_its_window() -> None:
    plan = build_demo(
        headlines(), WATCHLIST, start=START, hours=6, items=300, surge_at=0.5, surge_minutes=20
    )
    assert plan.surge_topic == "oil-energy"
    assert plan.surge_items == 30
    assert plan.surge_start == START + timedelta(hours=3)
    surge = [i for i in plan.items if "oil-energy" in tag(WATCHLIST, i["title"]).topics]
    assert len(surge) == 30
    times = [datetime.fromisoformat(i["published_at"]) for i in surge]
    assert all(plan.surge_start <= t <= plan.surge_end for t in times)


def test_every_item_is_in_time_order_within_the_span_and_used_once() -> None:
    plan = build_demo(headlines(), WATCHLIST, start=START, hours=6, items=300)
    times = [datetime.fromisoformat(i["published_at"]) for i in plan.items]
    assert times == sorted(times)
    assert times[0] >= START and times[-1] <= START + timedelta(hours=6)
    assert len({i["title"] for i in plan.items}) == len(plan.items) == 330
    assert len({i["url"] for i in plan.items}) == 330


def test_the_same_seed_gives_the_same_file() -> None:
    a = build_demo(headlines(), WATCHLIST, start=START, items=100, seed=3)
    b = build_demo(headlines(), WATCHLIST, start=START, items=100, seed=3)
    assert a.items == b.items


def test_nothing_to_plant_is_explained() -> None:
    with pytest.raises(ConfigFileError, match="nothing to plant"):
        build_demo([LabelledHeadline("Quiet day", True)], WATCHLIST, start=START)


def test_read_labelled_checks_the_columns(tmp_path: Path) -> None:
    good = tmp_path / "ok.csv"
    good.write_text('text,label\n"Oil slumps",0\n"Stocks rise",1\n,2\n')
    assert read_labelled(good) == [
        LabelledHeadline("Oil slumps", True),
        LabelledHeadline("Stocks rise", False),
    ]
    bad = tmp_path / "bad.csv"
    bad.write_text("headline,sentiment\nx,0\n")
    with pytest.raises(ConfigFileError, match="columns text,label"):
        read_labelled(bad)


def test_the_shipped_demo_names_companies_that_get_series_of_their_own() -> None:
    plan = build_demo(read_labelled(tfns_csv("valid")), WATCHLIST, start=START)
    named = companies_named(plan.items, load_registry())
    assert len(named) >= 50  # real headlines: Tesla, Boeing, Apple, Amazon, ...
    assert {"TSLA", "AAPL", "AMZN"} <= set(named)
    assert companies_named([{"title": "Shares edge higher in quiet trade"}], load_registry()) == {}
