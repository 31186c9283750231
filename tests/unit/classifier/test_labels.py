"""Label maps: the data's raw labels and any model's outputs onto negative|neutral|positive."""

from __future__ import annotations

import pytest

from classifier.exceptions import LabelMapError
from classifier.labels import CANONICAL, map_raw_label, model_order, parse_label_map


def test_the_shipped_data_convention_parses() -> None:
    assert parse_label_map("0=negative,1=positive,2=neutral") == {
        "0": "negative",
        "1": "positive",
        "2": "neutral",
    }


def test_synonyms_spaces_and_case_are_accepted() -> None:
    assert parse_label_map(" 0 = Bearish , 1=BULLISH, 2=neutral ") == {
        "0": "negative",
        "1": "positive",
        "2": "neutral",
    }


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ("0=negative,1=positive", "missing neutral"),
        ("0=negative,1=positive,2=happy", "'happy' is not one of"),
        ("0=negative,0=positive,2=neutral", "'0' is mapped twice"),
        ("0:negative,1=positive,2=neutral", "is not RAW=LABEL"),
        ("0=negative,1=negative,2=neutral", "missing positive"),
    ],
)
def test_bad_label_maps_say_what_is_wrong(spec: str, fragment: str) -> None:
    with pytest.raises(LabelMapError, match=fragment):
        parse_label_map(spec)


def test_empty_map_means_names_are_canonical() -> None:
    assert parse_label_map("") == {}
    assert map_raw_label("Bullish", {}) == "positive"
    assert map_raw_label("0", {}) is None


def test_raw_labels_written_as_floats_still_map() -> None:
    labels = parse_label_map("0=negative,1=positive,2=neutral")
    assert map_raw_label("1.0", labels) == "positive"
    assert map_raw_label("3", labels) is None


def test_canonical_names_in_canonical_order() -> None:
    assert model_order({0: "negative", 1: "neutral", 2: "positive"}) == (0, 1, 2)


def test_finbert_order_positive_negative_neutral() -> None:
    # ProsusAI/finbert: 0 positive, 1 negative, 2 neutral
    assert model_order({0: "positive", 1: "negative", 2: "neutral"}) == (1, 2, 0)


def test_upper_case_abbreviations_in_another_order() -> None:
    assert model_order({"0": "NEU", "1": "POS", "2": "NEG"}) == (2, 0, 1)


def test_generic_label_k_names_need_and_use_the_label_map() -> None:
    generic = {0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"}
    with pytest.raises(LabelMapError, match="give a label map"):
        model_order(generic)
    labels = parse_label_map("0=negative,1=positive,2=neutral")
    # LABEL_1 is positive, LABEL_2 neutral: canonical order picks outputs 0, 2, 1
    assert model_order(generic, labels) == (0, 2, 1)


def test_models_without_three_outputs_are_refused() -> None:
    with pytest.raises(LabelMapError, match="needs exactly 3 outputs"):
        model_order({0: "negative", 1: "positive"})


def test_a_label_named_twice_is_refused() -> None:
    with pytest.raises(LabelMapError, match="twice"):
        model_order({0: "negative", 1: "bearish", 2: "positive"})


def test_canonical_labels_are_fixed() -> None:
    assert CANONICAL == ("negative", "neutral", "positive")
