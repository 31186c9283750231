"""The agents' batches, run without Faust or Kafka: a fake model, an in-memory store and
a recording ``send`` stand in for the classifier, PostgreSQL and the broker."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from entities.registry import load_registry
from storage.articles import SavedBatch, ScoredArticle
from storage.exceptions import RejectedRecord
from streams import stages
from streams.agents import raw_record
from streams.counters import PipelineObserver
from streams.records import ModelRef, ScoredItem
from streams.stages import (
    EXIT_UNFINISHED,
    ClassifySink,
    Outgoing,
    PersistSink,
    RawRecord,
    raw_timestamp,
)
from streams.tagging import load_watchlist
from streams.topics import topic_names
from tests.unit.test_stages import P  # the fake prediction both test the stages with

pytestmark = pytest.mark.unit

NAMES = topic_names("")
MODEL = ModelRef(name="m", revision="r1")
REGISTRY = load_registry()


@dataclass
class FakeScorer:
    """Bearish on "falls", bullish otherwise; fails its first ``failures`` calls."""

    failures: int = 0
    model: ModelRef = MODEL
    calls: list[list[str]] = field(default_factory=list)

    def predict(self, texts: Sequence[str]) -> list[P]:
        self.calls.append(list(texts))
        if self.failures:
            self.failures -= 1
            raise RuntimeError("CUDA out of memory")
        return [
            P("negative", 0.8, 0.1, 0.1) if "falls" in t else P("positive", 0.1, 0.1, 0.8)
            for t in texts
        ]


@dataclass
class Broker:
    """A recording ``send``: what each topic received, in order; fails the first
    ``failures`` sends (nothing of a failed send is kept)."""

    failures: int = 0
    sent: dict[str, list[Outgoing]] = field(default_factory=dict)
    attempts: int = 0

    async def send(self, topic: str, records: Sequence[Outgoing]) -> None:
        self.attempts += 1
        if self.failures:
            self.failures -= 1
            raise TimeoutError("the broker acknowledged nothing within 30s")
        self.sent.setdefault(topic, []).extend(records)

    def dead(self) -> list[dict[str, Any]]:
        return [json.loads(value) for _, value, _ in self.sent.get(NAMES.deadletter, [])]

    def scored(self) -> list[ScoredItem]:
        return [ScoredItem.model_validate_json(v) for _, v, _ in self.sent.get(NAMES.scored, [])]


@dataclass
class Store:
    """An in-memory ``save``: refuses a batch holding a title with "refuse" in it (as
    the database refuses a record for its content); fails the first ``failures``
    calls as an outage does."""

    failures: int = 0
    articles: dict[str, ScoredArticle] = field(default_factory=dict)

    def save(self, batch: list[ScoredArticle]) -> SavedBatch:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("connection refused")
        for article in batch:
            if "refuse" in article.title:
                raise RejectedRecord(f"value too long for column title of {article.id}")
        new = [a.id for a in batch if a.id not in self.articles]
        self.articles.update((a.id, a) for a in batch if a.id in new)
        return SavedBatch(new)


def raw(value: bytes | None, offset: int, timestamp: float | None = 1764400000.0) -> RawRecord:
    return RawRecord(NAMES.raw, 0, offset, None, value, timestamp=timestamp)


def news(title: str) -> bytes:
    return json.dumps(
        {"source": "wire", "title": title, "published_at": "2026-03-02T11:00:00Z"}
    ).encode()


def classify_sink(scorer: FakeScorer, broker: Broker, observer: PipelineObserver) -> ClassifySink:
    return ClassifySink(
        scorer, load_watchlist(), REGISTRY, broker.send, observer, NAMES, max_retry_delay=0.5
    )


def persist_sink(store: Store, broker: Broker, observer: PipelineObserver) -> PersistSink:
    return PersistSink(
        store.save, broker.send, observer, NAMES, rejected=RejectedRecord, max_retry_delay=0.5
    )


def sample(observer: PipelineObserver, name: str, **labels: str) -> float:
    return observer.metrics.registry.get_sample_value(name, labels) or 0.0


def scored_records(titles: list[str], broker: Broker | None = None) -> list[RawRecord]:
    """``news.scored`` records as the classify agent sends them (headers and all)."""
    broker = broker or Broker()
    sink = classify_sink(FakeScorer(), broker, PipelineObserver())
    asyncio.run(sink.write([raw(news(t), n) for n, t in enumerate(titles)]))
    return [
        RawRecord(NAMES.scored, 0, n, key, value, headers=tuple((headers or {}).items()))
        for n, (key, value, headers) in enumerate(broker.sent[NAMES.scored])
    ]


def test_classify_sends_good_records_scored_and_bad_ones_as_dead_letters() -> None:
    scorer, broker, observer = FakeScorer(), Broker(), PipelineObserver()
    batch = [
        raw(news("Oil falls as OPEC lifts output"), 0, 1764400000.5),
        raw(b"not json at all", 1),
        raw(news("Apple earnings beat $AAPL"), 2, None),
    ]

    asyncio.run(classify_sink(scorer, broker, observer).write(batch))

    assert scorer.calls == [["Oil falls as OPEC lifts output", "Apple earnings beat $AAPL"]]
    first, second = broker.scored()
    assert (first.title, first.sentiment.label, first.model) == (
        "Oil falls as OPEC lifts output",
        "negative",
        MODEL,
    )
    assert second.sentiment.label == "positive" and second.tickers == ("AAPL",)
    keys = [key for key, _, _ in broker.sent[NAMES.scored]]
    assert keys == [first.id.encode(), second.id.encode()]
    headers = [h for _, _, h in broker.sent[NAMES.scored]]
    assert raw_timestamp(headers[0]) == 1764400000.5
    assert headers[1] is None  # no raw timestamp, no header
    (dead,) = broker.dead()
    assert (dead["stage"], dead["topic"], dead["offset"]) == ("classify", NAMES.raw, 1)
    assert dead["reason"].startswith("not JSON") and dead["value"] == "not json at all"


def test_classify_counts_and_measures_the_same_batch() -> None:
    observer = PipelineObserver()
    batch = [raw(news("Oil falls"), 0), raw(b"{}", 1), raw(b"\xff", 2), raw(news("Gold up"), 3)]

    asyncio.run(classify_sink(FakeScorer(), Broker(), observer).write(batch))

    c = observer.counters.classify
    assert (c.batches, c.processed, c.dead_lettered, c.retried) == (1, 4, 2, 0)
    assert sample(observer, "finsent_items_total", topic=NAMES.raw, stage="consumed") == 4
    assert sample(observer, "finsent_items_total", topic=NAMES.raw, stage="scored") == 2
    dead = sample(observer, "finsent_deadlettered_total", topic=NAMES.raw, stage="classify")
    assert dead == c.dead_lettered == 2
    assert sample(observer, "finsent_batch_size_sum", agent="classify") == 4
    assert sample(observer, "finsent_inference_seconds_count") == 1
    assert observer.counters.persist.processed == 0


def test_a_batch_of_bad_records_never_reaches_the_model() -> None:
    scorer, broker = FakeScorer(), Broker()
    asyncio.run(classify_sink(scorer, broker, PipelineObserver()).write([raw(b"[]", 0)]))
    assert scorer.calls == []
    assert broker.sent[NAMES.scored] == [] and len(broker.dead()) == 1


def test_a_failing_model_and_broker_are_retried_while_the_batch_is_held(
    caplog: pytest.LogCaptureFixture,
) -> None:
    scorer, broker, observer = FakeScorer(failures=1), Broker(failures=1), PipelineObserver()
    with caplog.at_level(logging.WARNING, logger="streams.stages"):
        asyncio.run(classify_sink(scorer, broker, observer).write([raw(news("Oil falls"), 0)]))

    assert len(scorer.calls) == 2 and broker.attempts == 3  # scored failed once, then both
    assert [s.title for s in broker.scored()] == ["Oil falls"]
    assert observer.counters.classify.retried == 2
    assert sample(observer, "finsent_retries_total", agent="classify", operation="model") == 1
    assert sample(observer, "finsent_retries_total", agent="classify", operation="kafka") == 1
    assert [r.getMessage() for r in caplog.records] == [
        "classifying failed (RuntimeError: CUDA out of memory); retrying in 0.2s",
        "publishing scored items failed (TimeoutError: the broker acknowledged nothing "
        "within 30s); retrying in 0.2s",
    ]


def test_persist_stores_good_records_and_dead_letters_the_rest() -> None:
    records = scored_records(["Oil falls", "Gold up", "Copper refuses to move"])
    malformed = RawRecord(NAMES.scored, 1, 9, b"k", b'{"id": "k"}')
    store, broker, observer = Store(), Broker(), PipelineObserver()

    asyncio.run(persist_sink(store, broker, observer).write([*records, malformed]))

    assert sorted(a.title for a in store.articles.values()) == ["Gold up", "Oil falls"]
    dead = broker.dead()
    assert [(d["stage"], d["topic"], d["partition"], d["offset"]) for d in dead] == [
        ("persist", NAMES.scored, 1, 9),
        ("persist", NAMES.scored, 0, 2),
    ]
    assert dead[0]["reason"].startswith("not a ScoredItem")
    assert dead[1]["reason"].startswith("value too long for column title")
    p = observer.counters.persist
    assert (p.batches, p.processed, p.dead_lettered) == (1, 4, 2)
    assert observer.counters.stored_new == 2
    assert sample(observer, "finsent_items_total", topic=NAMES.scored, stage="consumed") == 4
    assert sample(observer, "finsent_items_total", topic=NAMES.scored, stage="stored") == 2
    dead_metric = sample(
        observer, "finsent_deadlettered_total", topic=NAMES.scored, stage="persist"
    )
    assert dead_metric == p.dead_lettered
    # the three records that carried the raw timestamp were measured, the malformed not
    assert sample(observer, "finsent_publish_to_stored_seconds_count") == 3


def test_a_redelivered_batch_stores_nothing_new_and_sends_no_dead_letters() -> None:
    records = scored_records(["Oil falls", "Gold up"])
    store, broker, observer = Store(), Broker(), PipelineObserver()
    sink = persist_sink(store, broker, observer)

    asyncio.run(sink.write(records))
    asyncio.run(sink.write(records))

    assert len(store.articles) == 2 and observer.counters.stored_new == 2
    assert observer.counters.persist.processed == 4 and broker.attempts == 0


def test_a_database_outage_is_retried_not_dead_lettered() -> None:
    store, broker, observer = Store(failures=2), Broker(), PipelineObserver()

    asyncio.run(persist_sink(store, broker, observer).write(scored_records(["Oil falls"])))

    assert [a.title for a in store.articles.values()] == ["Oil falls"]
    assert broker.dead() == []
    assert observer.counters.persist.retried == 2
    assert sample(observer, "finsent_retries_total", agent="persist", operation="database") == 2
    assert observer.counters.persist.dead_lettered == 0


def test_stopped_while_holding_a_batch_exits_without_acknowledging(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Exited(Exception):
        pass

    def exit_(status: int) -> None:
        raise Exited(status)

    monkeypatch.setattr(stages.os, "_exit", exit_)
    monkeypatch.setattr(stages.logging, "shutdown", lambda: None)
    store = Store(failures=1_000_000)  # the database never comes back
    records = scored_records(["Oil falls"])

    async def main() -> None:
        sink = persist_sink(store, Broker(), PipelineObserver())
        task = asyncio.create_task(sink.write(records))
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(Exited) as exited:
            await task
        assert exited.value.args == (EXIT_UNFINISHED,)

    asyncio.run(main())
    assert store.articles == {}


@dataclass
class Message:
    topic: str = "news.scored"
    partition: int = 3
    offset: int = 7
    key: bytes | None = b"k"
    value: bytes | None = b"v"
    timestamp: float | None = 1764400000.0
    headers: Any = None


@dataclass
class Event:
    message: Message


@pytest.mark.parametrize(
    "headers",
    [[("finsent-raw-ts", b"1764400000.25")], {"finsent-raw-ts": b"1764400000.25"}],
)
def test_a_faust_event_becomes_a_plain_record(headers: Any) -> None:
    record = raw_record(Event(Message(headers=headers)))
    assert (record.topic, record.partition, record.offset) == ("news.scored", 3, 7)
    assert (record.key, record.value, record.timestamp) == (b"k", b"v", 1764400000.0)
    assert raw_timestamp(record.headers) == 1764400000.25
    assert raw_record(Event(Message())).headers == ()


def news_in(title: str, lang: str | None) -> bytes:
    record = {"source": "wire", "title": title, "published_at": "2026-03-02T11:00:00Z"}
    return json.dumps(record | ({"lang": lang} if lang else {})).encode()


def test_each_item_is_scored_by_the_model_of_its_language() -> None:
    """Issue 26, item 2: Chinese items go to the multilingual model, the rest to the
    English one; each stored item names the model that scored it and its language."""
    english, chinese = FakeScorer(), FakeScorer(model=ModelRef(name="zh", revision="r9"))
    broker = Broker()
    sink = ClassifySink(
        english,
        load_watchlist(),
        REGISTRY,
        broker.send,
        PipelineObserver(),
        NAMES,
        by_language={"zh": chinese},
    )
    batch = [
        raw(news_in("Oil falls as OPEC lifts output", None), 0),
        raw(news_in("油价大跌，欧佩克增产", None), 1),  # told from its script
        raw(news_in("TSMC raises its outlook", "zh-TW"), 2),  # its record says Chinese
        raw(news_in("Le pétrole recule", "fr"), 3),  # no French model: the English one
    ]

    asyncio.run(sink.write(batch))

    assert english.calls == [["Oil falls as OPEC lifts output", "Le pétrole recule"]]
    assert chinese.calls == [["油价大跌，欧佩克增产", "TSMC raises its outlook"]]
    by_title = {s.title: (s.lang, s.model.name) for s in broker.scored()}
    assert by_title == {
        "Oil falls as OPEC lifts output": ("en", "m"),
        "油价大跌，欧佩克增产": ("zh", "zh"),
        "TSMC raises its outlook": ("zh", "zh"),
        "Le pétrole recule": ("fr", "m"),
    }
    assert next(s.title for s in broker.scored()) == "Oil falls as OPEC lifts output"  # order


def test_without_a_chinese_model_chinese_items_go_to_the_default_one() -> None:
    scorer, broker = FakeScorer(), Broker()
    sink = classify_sink(scorer, broker, PipelineObserver())
    asyncio.run(sink.write([raw(news("央行宣布降准"), 0), raw(news("Oil falls"), 1)]))
    assert scorer.calls == [["央行宣布降准", "Oil falls"]]  # one batch, one call
    assert [s.lang for s in broker.scored()] == ["zh", "en"]
