"""The English transfer-set generator: the shipped distillation set is what it makes, and
its wide shapes are well-formed, distinct and reproducible."""

from __future__ import annotations

import csv
import re

import pytest

from bench.transfer_set import generate
from entities.registry import load_registry, short_name
from finsent.datasets import DISTIL_CSV

SLOT = re.compile(r"[{}]|\s{2,}|^\s|\s$")


@pytest.fixture(scope="module")
def names() -> list[str]:
    return sorted({short_name(e.name) for e in load_registry().entities} - {""})


def test_the_shipped_distillation_set_is_what_seed_1_generates(names: list[str]) -> None:
    with open(DISTIL_CSV, encoding="utf-8", newline="") as f:
        shipped = [row["text"] for row in csv.DictReader(f)]
    generated = shipped[-6000:]  # the README: rows after the tweets, seed 1, basic shapes
    assert generate(6000, 1, names) == generated


def test_wide_shapes_are_distinct_reproducible_and_filled(names: list[str]) -> None:
    texts = generate(3000, 5, names, shapes="wide")
    assert generate(3000, 5, names, shapes="wide") == texts
    assert len(set(texts)) == 3000
    assert set(texts) != set(generate(3000, 5, names))
    assert not [t for t in texts if SLOT.search(t)]


def test_an_unknown_shape_set_is_refused(names: list[str]) -> None:
    with pytest.raises(ValueError, match="unknown shapes 'all'"):
        generate(10, 1, names, shapes="all")
