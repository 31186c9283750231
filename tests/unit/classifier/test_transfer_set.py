"""The English transfer-set generator: the shipped distillation sets are what it makes, and
its wide shapes are well-formed, distinct and reproducible."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pytest

from bench.transfer_set import generate
from entities.registry import load_registry, short_name
from finsent.datasets import DISTIL_CSV, DISTIL_FULL_CSV, NEWS_EVAL_CSV, tfns_csv

SLOT = re.compile(r"[{}]|\s{2,}|^\s|\s$")
TWEETS = 9_543  # the rows of finsent/data/tfns/train.csv, the sets' first rows
GENERATED = 6_000  # each generated block: seed 1's texts, then seed 2's wide ones
VARIANTS_DRAWN = 6_000  # the full set's tweet variants that train.csv ends with


@pytest.fixture(scope="module")
def names() -> list[str]:
    return sorted({short_name(e.name) for e in load_registry().entities} - {""})


def rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def distil() -> list[dict[str, str]]:
    return rows(DISTIL_CSV)


def test_the_shipped_distillation_set_is_what_seed_1_generates(
    names: list[str], distil: list[dict[str, str]]
) -> None:
    generated = [row["text"] for row in distil[TWEETS : TWEETS + GENERATED]]  # the README
    assert generate(GENERATED, 1, names) == generated


def assert_teacher_labelled(labelled: list[dict[str, str]]) -> None:
    """Each row's label is the teacher's most probable class, in the shipped label map."""
    for row in labelled:
        p = [float(row[f"p_{name}"]) for name in ("negative", "neutral", "positive")]
        assert abs(sum(p) - 1) < 1e-3
        assert row["label"] == "021"[p.index(max(p))]


@pytest.fixture(scope="module")
def full() -> list[dict[str, str]]:
    return rows(DISTIL_FULL_CSV)


def test_both_sets_begin_with_the_tweets_and_seed_1s_then_seed_2s_wide_texts(
    names: list[str], full: list[dict[str, str]], distil: list[dict[str, str]]
) -> None:
    """Both sets are what the README says: the same tweets and seed 1's texts, then the
    6,000 texts of seed 2 with the wide shapes; none of them in the news set."""
    generated = TWEETS + 2 * GENERATED
    assert full[:generated] == distil[:generated]
    wide = full[TWEETS + GENERATED : generated]
    assert [row["text"] for row in wide] == generate(GENERATED, 2, names, shapes="wide")
    assert not {row["text"] for row in wide} & {row["text"] for row in rows(NEWS_EVAL_CSV)}
    assert_teacher_labelled(wide)


def test_the_full_set_ends_with_new_variants_of_the_training_tweets(
    full: list[dict[str, str]],
) -> None:
    """The rows after the wide texts are variants of the training tweets: none of them a
    tweet of either split or a text of the news set, each near some training tweet (the
    median of the best word overlap well above what unrelated texts share), labelled by
    the teacher."""
    tweets = [row["text"] for row in rows(tfns_csv("train"))]
    variants = full[TWEETS + 2 * GENERATED :]
    texts = [row["text"] for row in variants]
    assert len(texts) == 19_007 == len(set(texts))
    kept_apart = {*tweets, *(r["text"] for r in rows(tfns_csv("valid")))}
    kept_apart |= {r["text"] for r in rows(NEWS_EVAL_CSV)}
    assert not set(texts) & kept_apart
    assert_teacher_labelled(variants)

    words = [set(t.lower().split()) for t in tweets]
    by_word: dict[str, list[int]] = {}
    for i, ws in enumerate(words):
        for w in ws:
            by_word.setdefault(w, []).append(i)

    def nearest(text: str) -> float:
        ws = set(text.lower().split())
        near = {i for w in ws for i in by_word.get(w, ())}
        return max((len(ws & words[i]) / len(ws | words[i]) for i in near), default=0.0)

    overlaps = sorted(nearest(t) for t in texts[::50])
    assert overlaps[len(overlaps) // 2] >= 0.6


def test_the_smaller_set_ends_with_6000_of_the_full_sets_variants(
    full: list[dict[str, str]], distil: list[dict[str, str]]
) -> None:
    """``train.csv`` ends with the variants its README names: 6,000 of ``train_full.csv``'s,
    drawn by numpy's ``RandomState(0).choice`` without replacement, each row as it is."""
    variants = full[TWEETS + 2 * GENERATED :]
    drawn = np.random.RandomState(0).choice(len(variants), VARIANTS_DRAWN, replace=False)
    assert distil[TWEETS + 2 * GENERATED :] == [variants[i] for i in drawn]


def test_wide_shapes_are_distinct_reproducible_and_filled(names: list[str]) -> None:
    texts = generate(3000, 5, names, shapes="wide")
    assert generate(3000, 5, names, shapes="wide") == texts
    assert len(set(texts)) == 3000
    assert set(texts) != set(generate(3000, 5, names))
    assert not [t for t in texts if SLOT.search(t)]


def test_an_unknown_shape_set_is_refused(names: list[str]) -> None:
    with pytest.raises(ValueError, match="unknown shapes 'all'"):
        generate(10, 1, names, shapes="all")
