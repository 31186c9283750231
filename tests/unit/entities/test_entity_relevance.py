"""Relevance of a company to a news item: the headline's subject first, a passing mention
in the body last, a few points more for every further mention."""

from __future__ import annotations

import pytest

from entities.registry import Entity, Registry, load_registry
from entities.relevance import count_mentions, is_subject, rate, relevance
from entities.resolve import Mention

REGISTRY = load_registry()


@pytest.mark.parametrize(
    ("title", "name", "subject"),
    [
        ("Apple cuts iPhone orders", "Apple", True),
        ("Why Apple stock soared today", "Apple", True),
        ("Shares of Target fall after earnings", "Target", True),
        ("UPDATE 2-Microsoft beats estimates", "Microsoft", True),
        ("Exclusive: Boeing to cut jobs", "Boeing", True),
        ("Foxconn shares fall as Apple cuts orders", "Apple", False),
        ("Oil giants rally; Exxon leads", "Exxon", False),
    ],
)
def test_the_subject_opens_the_headline(title: str, name: str, subject: bool) -> None:
    assert is_subject(title, title.index(name)) is subject


@pytest.mark.parametrize(
    ("mention", "body", "expected"),
    [
        (Mention("AAPL", "Apple", "title", 0), None, 95),
        (Mention("AAPL", "Apple", "title", 24), None, 70),
        (Mention("AAPL", "Apple", "body", 4), "The Apple supplier fell. More news.", 50),
        (Mention("AAPL", "Apple", "body", 25), "The supplier fell. Also, Apple rose.", 25),
    ],
)
def test_relevance_by_place(mention: Mention, body: str | None, expected: int) -> None:
    title = "Foxconn shares fall as Apple cuts orders" if mention.offset else "Apple cuts orders"
    assert relevance(mention, title, body) == expected


def test_more_mentions_add_a_little_up_to_a_cap() -> None:
    first = Mention("AAPL", "Apple", "title", 0)
    assert relevance(first, "Apple cuts orders", None, mentions=2) == 100
    later = Mention("AAPL", "Apple", "body", 30)
    body = "A supplier fell on the news. Apple, Apple and Apple again."
    assert [relevance(later, "Suppliers fall", body, n) for n in (1, 2, 3, 9)] == [25, 30, 35, 35]


def test_count_mentions_counts_every_name_as_a_whole_word() -> None:
    entity = Entity("GOOGL", "Alphabet", "GOOGL", "NASDAQ", aliases=("Google",))
    assert count_mentions(entity, "Google sued", "Alphabet's Google unit. Googleplex.") == 3


def test_rate_resolves_and_rates_each_company_once() -> None:
    rated = rate(
        REGISTRY,
        "Foxconn shares fall as Apple cuts orders",
        "The supplier to Apple fell in Taipei. Nvidia was little changed.",
    )
    assert [(r.entity_id, r.relevance) for r in rated] == [
        ("2317.TW", 95),
        ("AAPL", 75),
        ("NVDA", 25),
    ]
    assert rate(Registry(()), "Apple cuts orders", None) == []
