"""The pipeline's stages as plain functions: raw records in, clean records and dead
letters out. No Faust, no Kafka client, no database: the agents call these."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from pydantic import ValidationError

from storage.types import SavedBatch, ScoredArticle
from streams.exceptions import InvalidRecord
from streams.records import (
    DeadLetter,
    ModelRef,
    NewsItem,
    ScoredItem,
    Sentiment,
    dead_letter,
    decode_json,
    parse_news_item,
)
from streams.tagging import Watchlist, tag


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One Kafka record as it arrived: where from, and its bytes."""

    topic: str
    partition: int | None
    offset: int | None
    key: bytes | None
    value: bytes | None


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


def score(
    items: Sequence[NewsItem],
    predictions: Sequence[PredictionLike],
    watchlist: Watchlist,
    model: ModelRef,
    now: datetime | None = None,
) -> list[ScoredItem]:
    """Join items with their predictions and topics into ScoredItems."""
    if len(items) != len(predictions):
        raise ValueError(f"{len(items)} items but {len(predictions)} predictions")
    now = now or datetime.now(UTC)
    out = []
    for item, p in zip(items, predictions, strict=True):
        tags = tag(watchlist, item.title, item.body)
        out.append(
            ScoredItem(
                **item.model_dump(by_alias=True),
                sentiment=Sentiment(
                    label=p.label,
                    negative=p.negative,
                    neutral=p.neutral,
                    positive=p.positive,
                    polarity=max(-1.0, min(1.0, p.positive - p.negative)),
                ),
                topics=tuple(dict.fromkeys((*tags.topics, *item.topic_hints))),
                tickers=tags.tickers,
                model=model,
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
