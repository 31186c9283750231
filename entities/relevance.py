"""How much a news item is about a company it names: relevance 0-100. Pure functions.

A headline's subject is what the story is about ("Apple cuts jobs"); a company named
later in the headline is a party to it ("Foxconn shares fall as Apple cuts orders"); one
in the body's first sentence is context; one further down is a passing mention. So:

| where the first mention is | relevance |
|---|---|
| the title's subject (its first words, after a kicker and lead-in words) | 95 |
| elsewhere in the title | 70 |
| the body's first sentence | 50 |
| later in the body | 25 |

and every further mention of any of its names adds 5, at most 10 in all, capped at 100.
A kicker is "UPDATE 2-", "Exclusive:"; lead-in words are "Why", "Shares of" and the
like (``LEAD_INS``). A number, not a class: a series can keep what is at least 70 (in
the headline) or at least 50, and the thresholds stay the reader's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from entities.registry import Entity, Registry
from entities.resolve import Mention, resolve

SUBJECT = 95
IN_TITLE = 70
FIRST_SENTENCE = 50
LATER = 25
PER_MENTION = 5
MAX_MENTION_BONUS = 10

#: A kicker before the headline proper: "UPDATE 2-", "EXCLUSIVE:", "Breaking |".
_KICKER = re.compile(r"^[^:|\-–—]{0,30}?(?:\d+\s*)?[:|\-–—]\s*")
#: Words a headline may open with before its subject ("Why Apple stock soared", "Shares
#: of Target fall").
LEAD_INS = frozenset(
    (
        *("why", "how", "what", "when", "where", "who"),
        *("is", "are", "will", "can", "could", "should", "did", "does", "do"),
        *("the", "shares", "stock", "stocks", "of", "in", "for"),
        *("analysts", "say", "report", "reports", "exclusive", "update", "breaking"),
    )
)
_WORD = re.compile(r"\w+")
_SENTENCE_END = re.compile(r"[.!?](?:\s|$)")


@dataclass(frozen=True, slots=True)
class Rated:
    """A company an item names, and how much the item is about it."""

    entity_id: str
    relevance: int


def is_subject(title: str, offset: int) -> bool:
    """Whether the name at ``offset`` opens ``title``: nothing before it but a kicker
    and lead-in words."""
    before = title[:offset]
    kicker = _KICKER.match(before)
    if kicker is not None:
        before = before[kicker.end() :]
    return all(w.lower() in LEAD_INS for w in _WORD.findall(before))


def first_sentence_end(body: str) -> int:
    """Where the body's first sentence ends (its length when it has one sentence)."""
    end = _SENTENCE_END.search(body)
    return end.end() if end is not None else len(body)


@lru_cache(maxsize=4096)
def _names_pattern(names: frozenset[str]) -> re.Pattern[str]:
    """One expression for a company's names, longest first (compiled once per company)."""
    ordered = sorted(names, key=len, reverse=True)
    return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(n) for n in ordered) + r")(?!\w)")


def count_mentions(entity: Entity, title: str, body: str | None) -> int:
    """How often the title and body write any of ``entity``'s names (whole words)."""
    pattern = _names_pattern(entity.all_names)
    return sum(len(pattern.findall(text)) for text in (title, body or ""))


def relevance(mention: Mention, title: str, body: str | None, mentions: int = 1) -> int:
    """The relevance (0-100) of the company of ``mention`` (its first mention) to the
    item, which names it ``mentions`` times in all."""
    if mention.where == "title":
        base = SUBJECT if is_subject(title, mention.offset) else IN_TITLE
    elif mention.offset < first_sentence_end(body or ""):
        base = FIRST_SENTENCE
    else:
        base = LATER
    bonus = min(MAX_MENTION_BONUS, PER_MENTION * max(0, mentions - 1))
    return min(100, base + bonus)


def rate(registry: Registry, title: str, body: str | None) -> list[Rated]:
    """The registry companies the item names, each with its relevance, in order of
    first mention."""
    out = []
    for mention in resolve(registry, title, body):
        count = max(1, count_mentions(registry[mention.entity_id], title, body))
        out.append(Rated(mention.entity_id, relevance(mention, title, body, count)))
    return out
