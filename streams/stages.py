"""The pipeline's stages as plain functions: raw records in, clean records and dead
letters out; and the agents' batches (``ClassifySink``, ``PersistSink``), which run
them with their collaborators passed in. No Faust, no Kafka client, no database: the
agents call these.

No exception may leave a batch (Faust acknowledges a ``take`` batch even when its body
raises): bad records become dead letters, and failures of the model, the database or
the producer are retried while the batch is held (the worker stalls rather than drops).
If the worker is stopped while it holds an unfinished batch, the process exits at once
without acknowledging it, and the batch is redelivered.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import time
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from pydantic import ValidationError

from core.errors import first_line
from entities.registry import Registry
from entities.relevance import rate
from storage.articles import EntityMention, SavedBatch, ScoredArticle
from streams.exceptions import InvalidRecord
from streams.language import DEFAULT_LANGUAGE, detect_language, item_language
from streams.records import (
    DeadLetter,
    EntityRef,
    ModelRef,
    NewsItem,
    ScoredItem,
    Sentiment,
    dead_letter,
    decode_json,
    parse_news_item,
)
from streams.tagging import Watchlist, tag

if TYPE_CHECKING:
    from streams.counters import PipelineObserver
    from streams.topics import TopicNames

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Exit status when stopped while holding an unfinished batch (EX_SOFTWARE).
EXIT_UNFINISHED = 70
#: Header the classify agent puts on each scored record: the raw record's timestamp.
RAW_TIMESTAMP_HEADER = "finsent-raw-ts"

#: A record to send: key, value, headers.
Outgoing = tuple[bytes | None, bytes, dict[str, bytes] | None]
#: Sends records to the topic named by the first argument; returns once the broker has
#: acknowledged them all, raises otherwise (``streams.agents.send_all``).
Send = Callable[[str, Sequence[Outgoing]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One Kafka record as it arrived: where from, and its bytes (and its timestamp, in
    seconds, and headers, where the agent had them)."""

    topic: str
    partition: int | None
    offset: int | None
    key: bytes | None
    value: bytes | None
    timestamp: float | None = None
    headers: tuple[tuple[str, bytes], ...] = ()


class PredictionLike(Protocol):
    """What the classifier returns per text (``classifier.engine.Prediction``)."""

    @property
    def label(self) -> str: ...
    @property
    def negative(self) -> float: ...
    @property
    def neutral(self) -> float: ...
    @property
    def positive(self) -> float: ...


class Scorer(Protocol):
    """The classifier as the pipeline sees it."""

    model: ModelRef

    def predict(self, texts: Sequence[str]) -> Sequence[PredictionLike]: ...


@dataclass(slots=True)
class Checked:
    """A batch after validation: the good records (with their origin) and the bad."""

    items: list[tuple[RawRecord, NewsItem]] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)


def dead_for(record: RawRecord, reason: str, stage: str, now: datetime | None = None) -> DeadLetter:
    """The dead letter of ``record``: why, at which stage, where from, its bytes."""
    return dead_letter(
        reason,
        stage=stage,
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        key=record.key,
        value=record.value,
        now=now,
    )


def check_raw(records: Sequence[RawRecord], now: datetime | None = None) -> Checked:
    """Validate raw ``news.raw`` records; each bad one becomes a dead letter."""
    now = now or datetime.now(UTC)
    out = Checked()
    for record in records:
        try:
            out.items.append((record, parse_news_item(record.value, record.key, now=now)))
        except InvalidRecord as e:
            out.dead.append(dead_for(record, str(e), "classify", now))
        except Exception as e:  # a record that breaks the parser is still just a record
            out.dead.append(
                dead_for(record, f"unreadable record: {type(e).__name__}: {e}", "classify", now)
            )
    return out


def model_text(item: NewsItem) -> str:
    """What the model reads: the headline (bodies are often boilerplate or absent)."""
    return item.title


def language_of(item: NewsItem) -> str:
    """The item's language: the one its record (or feed) names, else its headline's
    script, or its body's where the headline alone does not say (``streams.language``)."""
    lang = item_language(item.lang, model_text(item))
    if lang == DEFAULT_LANGUAGE and item.lang is None and item.body:
        return detect_language(item.body[:2_000])
    return lang


def routes(langs: Sequence[str], languages: Collection[str]) -> dict[str | None, list[int]]:
    """The positions of the items each model scores: those in a language of
    ``languages`` (that has a model of its own) under that language, the rest under
    None (the default model)."""
    out: dict[str | None, list[int]] = {}
    for position, lang in enumerate(langs):
        out.setdefault(lang if lang in languages else None, []).append(position)
    return out


def score(
    items: Sequence[NewsItem],
    predictions: Sequence[PredictionLike],
    watchlist: Watchlist,
    registry: Registry,
    model: ModelRef | Sequence[ModelRef],
    now: datetime | None = None,
    langs: Sequence[str] | None = None,
) -> list[ScoredItem]:
    """Join items with their predictions, topics and companies (with their relevance)
    into ScoredItems. ``model``: the model that scored each item (one for all);
    ``langs``: each item's language (``item_language``; None: as each item says)."""
    if len(items) != len(predictions):
        raise ValueError(f"{len(items)} items but {len(predictions)} predictions")
    now = now or datetime.now(UTC)
    models = [model] * len(items) if isinstance(model, ModelRef) else list(model)
    languages = list(langs) if langs is not None else [item.lang for item in items]
    if not len(models) == len(languages) == len(items):
        raise ValueError(f"{len(items)} items but {len(models)} models, {len(languages)} langs")
    out = []
    for item, p, ref, lang in zip(items, predictions, models, languages, strict=True):
        tags = tag(watchlist, item.title, item.body)
        out.append(
            ScoredItem(
                **{**item.model_dump(by_alias=True), "lang": lang},
                sentiment=Sentiment(
                    label=p.label,
                    negative=p.negative,
                    neutral=p.neutral,
                    positive=p.positive,
                    polarity=max(-1.0, min(1.0, p.positive - p.negative)),
                ),
                topics=tuple(dict.fromkeys((*tags.topics, *item.topic_hints))),
                tickers=tags.tickers,
                entities=tuple(
                    EntityRef(id=r.entity_id, relevance=r.relevance)
                    for r in rate(registry, item.title, item.body)
                ),
                model=ref,
                scored_at=now,
            )
        )
    return out


def parse_scored(record: RawRecord) -> ScoredItem:
    """A ScoredItem from ``news.scored`` bytes, or ``InvalidRecord``."""
    data = decode_json(record.value)
    try:
        item = ScoredItem.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "record"
        raise InvalidRecord(f"not a ScoredItem: {where}: {first['msg']}") from None
    if item.published_at.tzinfo is None or item.scored_at.tzinfo is None:
        raise InvalidRecord("not a ScoredItem: times must carry a zone")
    if record.key is not None and record.key.decode("utf-8", "replace") != item.id:
        raise InvalidRecord("record key does not match id")
    return item


def check_scored(
    records: Sequence[RawRecord], now: datetime | None = None
) -> tuple[list[tuple[RawRecord, ScoredItem]], list[DeadLetter]]:
    now = now or datetime.now(UTC)
    good: list[tuple[RawRecord, ScoredItem]] = []
    dead: list[DeadLetter] = []
    for record in records:
        try:
            good.append((record, parse_scored(record)))
        except InvalidRecord as e:
            dead.append(dead_for(record, str(e), "persist", now))
        except Exception as e:  # a record that breaks the parser is still just a record
            dead.append(
                dead_for(record, f"unreadable record: {type(e).__name__}: {e}", "persist", now)
            )
    return good, dead


def to_article(item: ScoredItem) -> ScoredArticle:
    """The storage row of a ScoredItem."""
    return ScoredArticle(
        id=item.id,
        source=item.source,
        url=item.url,
        title=item.title,
        body=item.body,
        lang=item.lang,
        published_at=item.published_at,
        fetched_at=item.fetched_at,
        label=item.sentiment.label,
        p_negative=item.sentiment.negative,
        p_neutral=item.sentiment.neutral,
        p_positive=item.sentiment.positive,
        model_name=item.model.name,
        model_revision=item.model.revision,
        scored_at=item.scored_at,
        topics=tuple(item.topics),
        tickers=tuple(item.tickers),
        entities=tuple(EntityMention(e.id, e.relevance) for e in item.entities),
        duplicate_of=item.duplicate_of,
    )


def save_isolating_rejects(
    save: Callable[[list[ScoredArticle]], SavedBatch],
    items: list[tuple[RawRecord, ScoredArticle]],
    rejected_error: type[Exception],
) -> tuple[list[str], list[tuple[RawRecord, str]]]:
    """Save ``items``; if the store refuses the batch for its content, split it in halves
    until the refused records are isolated. Returns (new ids, [(record, reason)]): the
    refused records, and those whose id already belongs to another article.

    Any other error (an outage) propagates, so the caller retries the whole batch.
    """
    if not items:
        return [], []
    try:
        saved = save([article for _, article in items])
    except rejected_error as e:
        if len(items) == 1:
            return [], [(items[0][0], str(e))]
    else:
        return saved.new, [(items[position][0], why) for position, why in saved.conflicts]
    half = len(items) // 2
    new_a, bad_a = save_isolating_rejects(save, items[:half], rejected_error)
    new_b, bad_b = save_isolating_rejects(save, items[half:], rejected_error)
    return new_a + new_b, bad_a + bad_b


def raw_timestamp_header(timestamp: float | None) -> dict[str, bytes] | None:
    """The header that carries a raw record's timestamp (seconds) to the persist agent."""
    return None if timestamp is None else {RAW_TIMESTAMP_HEADER: repr(float(timestamp)).encode()}


def raw_timestamp(headers: Any) -> float | None:
    """The raw record's timestamp from a scored record's headers (a list of pairs or a
    mapping, as Faust gives them); None when absent or unreadable."""
    pairs = headers.items() if isinstance(headers, dict) else (headers or ())
    for name, value in pairs:
        if name == RAW_TIMESTAMP_HEADER:
            try:
                return float(value.decode() if isinstance(value, bytes) else value)
            except (UnicodeDecodeError, ValueError):
                return None
    return None


def dead_records(dead: Sequence[DeadLetter]) -> list[Outgoing]:
    """Dead letters as records for the dead-letter topic, keyed by the original key."""
    return [(d.key.encode() if d.key is not None else None, d.to_json(), None) for d in dead]


async def hold(
    action: Callable[[], Awaitable[T]], what: str, on_retry: Callable[[], None], max_delay: float
) -> T:
    """Run ``action`` until it succeeds, backing off; never give the batch up."""
    delay = 0.25
    while True:
        try:
            return await action()
        except asyncio.CancelledError:
            log.error("stopped while %s was unfinished: exiting without acknowledging", what)
            logging.shutdown()
            os._exit(EXIT_UNFINISHED)
        except Exception as e:
            on_retry()
            log.warning(
                "%s failed (%s: %s); retrying in %.1fs",
                what,
                type(e).__name__,
                first_line(e),
                delay,
            )
        try:
            await asyncio.sleep(delay)
        except asyncio.CancelledError:
            log.error("stopped while retrying %s: exiting without acknowledging", what)
            logging.shutdown()
            os._exit(EXIT_UNFINISHED)
        delay = min(delay * 2, max_delay)


@dataclass
class ClassifySink:
    """The classify agent's batch: check the raw records, score the good ones (the model
    off the event loop), send the scored items and the dead letters, and tell the
    observer. The model and the sends are retried while the batch is held."""

    scorer: Scorer
    watchlist: Watchlist
    #: The companies resolved in each item (``entities``), built once per worker.
    registry: Registry
    send: Send
    observer: PipelineObserver
    topics: TopicNames
    #: Where the model runs; None: the event loop's default executor.
    model_pool: Executor | None = None
    max_retry_delay: float = 30.0
    #: Models of their own for some languages (``zh``: the multilingual one); items in
    #: any other language go to ``scorer``.
    by_language: Mapping[str, Scorer] = field(default_factory=dict)

    async def write(self, records: Sequence[RawRecord]) -> None:
        topics, observer = self.topics, self.observer
        observer.took("classify", topics.raw, len(records))
        checked = check_raw(records)
        items = [item for _, item in checked.items]
        langs = [language_of(item) for item in items]
        predictions: list[PredictionLike | None] = [None] * len(items)
        models = [self.scorer.model] * len(items)
        for lang, positions in routes(langs, self.by_language).items():
            scorer = self.scorer if lang is None else self.by_language[lang]
            texts = [model_text(items[i]) for i in positions]
            got = await hold(
                functools.partial(self._predict, scorer, texts),
                "classifying",
                functools.partial(observer.retried, "classify", "model"),
                self.max_retry_delay,
            )
            for i, prediction in zip(positions, got, strict=True):
                predictions[i], models[i] = prediction, scorer.model
        scored = score(
            items,
            [p for p in predictions if p is not None],
            self.watchlist,
            self.registry,
            models,
            langs=langs,
        )
        out: list[Outgoing] = [
            (s.id.encode(), s.to_json(), raw_timestamp_header(record.timestamp))
            for (record, _), s in zip(checked.items, scored, strict=True)
        ]

        async def publish() -> None:
            await self.send(topics.scored, out)
            await self.send(topics.deadletter, dead_records(checked.dead))

        await hold(
            publish,
            "publishing scored items",
            functools.partial(observer.retried, "classify", "kafka"),
            self.max_retry_delay,
        )
        observer.classified(topics.raw, len(records), len(scored), checked.dead)

    async def _predict(self, scorer: Scorer, texts: list[str]) -> Sequence[PredictionLike]:
        started = time.perf_counter()
        loop = asyncio.get_running_loop()
        out = await loop.run_in_executor(self.model_pool, scorer.predict, texts)
        self.observer.inferred(time.perf_counter() - started)
        return out


@dataclass
class PersistSink:
    """The persist agent's batch: check the scored records, store the good ones (one
    transaction per batch, refused records isolated), send the dead letters, and tell the
    observer. The database and the sends are retried while the batch is held."""

    save: Callable[[list[ScoredArticle]], SavedBatch]
    send: Send
    observer: PipelineObserver
    topics: TopicNames
    #: The error ``save`` raises when it refuses a batch for its content.
    rejected: type[Exception]
    #: Where ``save`` runs; None: the event loop's default executor.
    db_pool: Executor | None = None
    max_retry_delay: float = 30.0

    async def write(self, records: Sequence[RawRecord]) -> None:
        topics, observer = self.topics, self.observer
        observer.took("persist", topics.scored, len(records))
        good, dead = check_scored(records)
        pairs = [(record, to_article(item)) for record, item in good]

        async def save() -> tuple[list[str], list[tuple[RawRecord, str]]]:
            return await asyncio.get_running_loop().run_in_executor(
                self.db_pool, save_isolating_rejects, self.save, pairs, self.rejected
            )

        new_ids, rejected = await hold(
            save,
            "saving to the database",
            functools.partial(observer.retried, "persist", "database"),
            self.max_retry_delay,
        )
        stored = time.time()
        for record in records:
            published = raw_timestamp(record.headers)
            if published is not None:
                observer.reached_store(max(0.0, stored - published))
        dead += [dead_for(record, reason, "persist") for record, reason in rejected]
        if dead:
            await hold(
                lambda: self.send(topics.deadletter, dead_records(dead)),
                "publishing dead letters",
                functools.partial(observer.retried, "persist", "kafka"),
                self.max_retry_delay,
            )
        observer.stored(topics.scored, len(records), len(new_ids), dead)
