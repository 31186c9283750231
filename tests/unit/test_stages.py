"""The plain stage functions of the pipeline, with plain data."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from entities.registry import load_registry
from storage.articles import EntityMention, SavedBatch
from storage.exceptions import RejectedRecord
from streams.records import EntityRef, ModelRef
from streams.stages import (
    RawRecord,
    check_raw,
    check_scored,
    parse_scored,
    save_isolating_rejects,
    score,
    to_article,
)
from streams.tagging import load_watchlist

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
MODEL = ModelRef(name="m", revision="r1")
REGISTRY = load_registry()


@dataclass
class P:
    label: str
    negative: float
    neutral: float
    positive: float


def record(value: bytes | None, offset: int = 0, key: bytes | None = None) -> RawRecord:
    return RawRecord(topic="news.raw", partition=1, offset=offset, key=key, value=value)


def good(n: int, title: str = "Oil jumps as OPEC cuts output") -> bytes:
    return json.dumps(
        {"source": "wire", "title": f"{title} {n}", "published_at": "2026-03-02T11:00:00Z"}
    ).encode()


def test_check_raw_splits_good_and_bad_keeping_the_origin() -> None:
    checked = check_raw([record(good(1), 0), record(b"nope", 1), record(good(2), 2)], NOW)
    assert [r.offset for r, _ in checked.items] == [0, 2]
    (dead,) = checked.dead
    assert (dead.topic, dead.partition, dead.offset, dead.stage) == ("news.raw", 1, 1, "classify")
    assert dead.reason.startswith("not JSON")


def test_score_joins_predictions_topics_and_model() -> None:
    checked = check_raw([record(good(1)), record(good(2, "Apple earnings beat $AAPL"))], NOW)
    items = [item for _, item in checked.items]
    scored = score(
        items,
        [P("negative", 0.7, 0.2, 0.1), P("positive", 0.1, 0.1, 0.8)],
        load_watchlist(),
        REGISTRY,
        MODEL,
        NOW,
    )
    assert scored[0].sentiment.polarity == pytest.approx(-0.6)
    assert scored[0].topics == ("market", "oil-energy")
    assert scored[1].tickers == ("AAPL",)
    assert {"apple", "earnings"} <= set(scored[1].topics)
    assert scored[1].model == MODEL and scored[1].scored_at == NOW
    assert scored[0].entities == ()
    assert scored[1].entities == (EntityRef(id="AAPL", relevance=95),)
    with pytest.raises(ValueError, match="2 items but 1 predictions"):
        score(items, [P("neutral", 0.1, 0.8, 0.1)], load_watchlist(), REGISTRY, MODEL, NOW)


def test_scored_items_round_trip_and_bad_ones_are_dead_lettered() -> None:
    (item,) = [i for _, i in check_raw([record(good(1))], NOW).items]
    (s,) = score([item], [P("neutral", 0.2, 0.6, 0.2)], load_watchlist(), REGISTRY, MODEL, NOW)
    wrong_key = record(s.to_json(), 5, key=b"other")
    broken = json.loads(s.to_json())
    broken["sentiment"]["label"] = "bullish"
    parsed, dead = check_scored(
        [
            record(s.to_json(), 4, key=s.id.encode()),
            wrong_key,
            record(json.dumps(broken).encode(), 6),
        ],
        NOW,
    )
    assert [r.offset for r, _ in parsed] == [4]
    assert parsed[0][1] == s
    assert [d.offset for d in dead] == [5, 6]
    assert "does not match id" in dead[0].reason
    assert "sentiment.label" in dead[1].reason
    article = to_article(parsed[0][1])
    assert article.id == s.id and article.label == "neutral" and article.topics == s.topics


def test_save_isolating_rejects_finds_the_bad_records() -> None:
    saved: list[str] = []

    def save(items: list[str]) -> SavedBatch:
        if any(i.startswith("bad") for i in items):
            raise RejectedRecord("refused")
        saved.extend(items)
        return SavedBatch(list(items))

    pairs = [(record(None, n), f"{'bad' if n in (3, 6) else 'ok'}{n}") for n in range(8)]
    new, rejected = save_isolating_rejects(save, pairs, RejectedRecord)  # type: ignore[arg-type]
    assert sorted(new) == sorted(f"ok{n}" for n in range(8) if n not in (3, 6))
    assert [r.offset for r, _ in rejected] == [3, 6]
    assert all(reason == "refused" for _, reason in rejected)


def test_an_id_collision_comes_back_as_a_reject_of_its_own_record() -> None:
    def save(items: list[str]) -> SavedBatch:
        return SavedBatch(items[:1], [(1, "id 'a' already belongs to another article")])

    pairs = [(record(None, 0), "first"), (record(None, 1), "second")]
    new, rejected = save_isolating_rejects(save, pairs, RejectedRecord)  # type: ignore[arg-type]
    assert new == ["first"]
    assert [(r.offset, why) for r, why in rejected] == [
        (1, "id 'a' already belongs to another article")
    ]


def test_an_outage_is_not_a_reject() -> None:
    def save(items: list[str]) -> SavedBatch:
        raise ConnectionError("database down")

    with pytest.raises(ConnectionError):
        save_isolating_rejects(save, [(record(None), "x")], RejectedRecord)  # type: ignore[arg-type]


def test_companies_travel_to_storage_and_older_records_name_none() -> None:
    (item,) = [i for _, i in check_raw([record(good(1, "Apple cuts orders; Foxconn falls"))]).items]
    (s,) = score([item], [P("negative", 0.8, 0.1, 0.1)], load_watchlist(), REGISTRY, MODEL, NOW)
    assert [(e.id, e.relevance) for e in s.entities] == [("AAPL", 95), ("2317.TW", 70)]
    assert to_article(parse_scored(record(s.to_json(), key=s.id.encode()))).entities == (
        EntityMention("AAPL", 95),
        EntityMention("2317.TW", 70),
    )
    older = json.loads(s.to_json())
    del older["entities"]
    assert parse_scored(record(json.dumps(older).encode())).entities == ()
