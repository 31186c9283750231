"""The English transfer-set generator: the shipped distillation set is what it makes, and
its wide shapes are well-formed, distinct and reproducible."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from bench.transfer_set import generate
from entities.registry import load_registry, short_name
from finsent.datasets import DISTIL_CSV, DISTIL_WIDE_CSV, NEWS_EVAL_CSV

SLOT = re.compile(r"[{}]|\s{2,}|^\s|\s$")


@pytest.fixture(scope="module")
def names() -> list[str]:
    return sorted({short_name(e.name) for e in load_registry().entities} - {""})


def test_the_shipped_distillation_set_is_what_seed_1_generates(names: list[str]) -> None:
    with open(DISTIL_CSV, encoding="utf-8", newline="") as f:
        shipped = [row["text"] for row in csv.DictReader(f)]
    generated = shipped[-6000:]  # the README: rows after the tweets, seed 1, basic shapes
    assert generate(6000, 1, names) == generated


def test_the_shipped_wide_set_is_the_distillation_set_and_seed_2s_wide_texts(
    names: list[str],
) -> None:
    """``train_wide.csv`` is what the README says: every row of ``train.csv`` as it is,
    then the 6,000 texts of seed 2 with the wide shapes; none of them in the news set."""

    def rows(path: Path) -> list[dict[str, str]]:
        with open(path, encoding="utf-8", newline="") as f:
            return list(csv.DictReader(f))

    wide, distil = rows(DISTIL_WIDE_CSV), rows(DISTIL_CSV)
    assert len(wide) == len(distil) + 6000
    assert wide[: len(distil)] == distil
    added = [row["text"] for row in wide[len(distil) :]]
    assert added == generate(6000, 2, names, shapes="wide")
    assert not set(added) & {row["text"] for row in rows(NEWS_EVAL_CSV)}
    # labelled by the teacher: its most probable class, in the shipped label map
    for row in wide[len(distil) :]:
        p = [float(row[f"p_{name}"]) for name in ("negative", "neutral", "positive")]
        assert abs(sum(p) - 1) < 1e-3
        assert row["label"] == "021"[p.index(max(p))]


def test_wide_shapes_are_distinct_reproducible_and_filled(names: list[str]) -> None:
    texts = generate(3000, 5, names, shapes="wide")
    assert generate(3000, 5, names, shapes="wide") == texts
    assert len(set(texts)) == 3000
    assert set(texts) != set(generate(3000, 5, names))
    assert not [t for t in texts if SLOT.search(t)]


def test_an_unknown_shape_set_is_refused(names: list[str]) -> None:
    with pytest.raises(ValueError, match="unknown shapes 'all'"):
        generate(10, 1, names, shapes="all")
