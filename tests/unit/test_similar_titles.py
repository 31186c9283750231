"""The index behind the novelty check: the same answers as comparing a title with every
title held (which it does itself when told it is not worth indexing), found through the
rare shingles that lead each title."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.titles import SimilarTitles, jaccard, normalise_title, title_shingles

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DAY = timedelta(hours=24)


def title(text: str) -> set[int]:
    return title_shingles(normalise_title(text))


@pytest.mark.parametrize("indexed", [True, False])
def test_a_reworded_story_is_found_within_the_window_only(indexed: bool) -> None:
    stored = [(T0, title("Apple shares jump after record iPhone sales"))]
    index = SimilarTitles(stored, 0.5, DAY, indexed=indexed)
    reworded = title("Apple shares jump after record iPhone sales in China")
    assert index.has_similar(T0 + timedelta(hours=3), reworded)
    assert index.has_similar(T0 - timedelta(hours=23), reworded)  # an earlier time counts too
    assert not index.has_similar(T0 + timedelta(hours=25), reworded)
    assert not index.has_similar(T0, title("Apple to build a new campus in Texas"))


@pytest.mark.parametrize("indexed", [True, False])
def test_titles_added_after_the_index_was_made_are_found(indexed: bool) -> None:
    index = SimilarTitles([], 0.5, DAY, indexed=indexed)
    assert len(index) == 0
    first = title("Tesla recalls 2 million cars over autopilot")
    assert not index.has_similar(T0, first)
    index.add(T0, first)
    assert len(index) == 1
    assert index.has_similar(T0, title("Tesla recalls 2 million cars over its autopilot"))


def test_an_empty_title_is_like_no_other() -> None:
    index = SimilarTitles([(T0, set()), (T0, title("Nvidia beats"))], 0.5, DAY)
    assert not index.has_similar(T0, set())


@pytest.mark.parametrize("similarity", [0.0, -0.1, 1.5])
def test_a_similarity_outside_zero_to_one_is_refused(similarity: float) -> None:
    with pytest.raises(ValueError, match="similarity"):
        SimilarTitles([], similarity, DAY)


# small shingle alphabets, so that many pairs land near every threshold
shingle_sets = st.sets(st.integers(min_value=0, max_value=40), max_size=25)
held = st.lists(st.tuples(st.integers(min_value=0, max_value=72), shingle_sets), max_size=30)


@settings(max_examples=300, deadline=None)
@given(
    initial=held,
    added=held,
    probes=held,
    similarity=st.sampled_from([0.3, 0.5, 0.6, 0.75, 0.9, 1.0]),
    indexed=st.booleans(),
)
def test_the_answer_is_that_of_comparing_with_every_title(
    initial: list[tuple[int, set[int]]],
    added: list[tuple[int, set[int]]],
    probes: list[tuple[int, set[int]]],
    similarity: float,
    indexed: bool,
) -> None:
    def at(hours: int) -> datetime:
        return T0 + timedelta(hours=hours)

    index = SimilarTitles([(at(h), s) for h, s in initial], similarity, DAY, indexed=indexed)
    for h, s in added:
        index.add(at(h), s)
    every = [(at(h), s) for h, s in initial + added]
    for h, s in probes:
        naive = any(
            abs(other_at - at(h)) <= DAY and jaccard(s, other) >= similarity
            for other_at, other in every
        )
        assert index.has_similar(at(h), s) == naive
