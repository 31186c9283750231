"""Plain-data builders shared by tests and the concurrent-writer helper process."""

from __future__ import annotations

import hashlib
import random
from datetime import UTC, datetime, timedelta

from storage.articles import ScoredArticle

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LABELS = ("negative", "neutral", "positive")


def article(
    n: int,
    *,
    label: str = "neutral",
    published_at: datetime | None = None,
    topics: tuple[str, ...] = ("market",),
    source: str = "wire",
    title: str | None = None,
    duplicate_of: str | None = None,
    probs: tuple[float, float, float] | None = None,
) -> ScoredArticle:
    """Article number ``n``: same ``n``, same id and content."""
    if probs is None:
        probs = {
            "negative": (0.8, 0.15, 0.05),
            "neutral": (0.1, 0.8, 0.1),
            "positive": (0.05, 0.15, 0.8),
        }[label]
    published = published_at or T0 + timedelta(seconds=37 * n)
    return ScoredArticle(
        id=hashlib.sha256(f"item-{n}".encode()).hexdigest(),
        source=source,
        url=f"https://news.example/{n}",
        title=title or f"Headline number {n}",
        body=None,
        published_at=published,
        fetched_at=published + timedelta(seconds=5),
        lang="en",
        label=label,
        p_negative=probs[0],
        p_neutral=probs[1],
        p_positive=probs[2],
        model_name="test-model",
        model_revision="r1",
        scored_at=published + timedelta(seconds=6),
        topics=topics,
        duplicate_of=duplicate_of,
    )


def random_articles(ns: range, seed: int = 0) -> list[ScoredArticle]:
    """Deterministic varied articles: label and topics depend on ``n`` only."""
    out = []
    for n in ns:
        rng = random.Random(n * 7919 + seed)
        topics = ("market", *rng.sample(["oil", "banks", "crypto", "rates"], rng.randint(0, 2)))
        out.append(article(n, label=rng.choice(LABELS), topics=topics))
    return out
