"""Variants of the training tweets: neighbours by embedding, links and handles kept,
figures redrawn in kind, distinct and reproducible."""

from __future__ import annotations

import random

import numpy as np
import pytest

from bench.tweet_variants import (
    match_case,
    neighbour_table,
    redraw_number,
    variant,
    variants,
    whole_words,
)


def test_whole_words_skips_subword_pieces_and_special_tokens() -> None:
    vocab = ["[PAD]", "<s>", "rise", "##s", "fall", "a", "q3", "Shares"]
    assert whole_words(vocab) == [(2, "rise"), (4, "fall")]


def test_whole_words_reads_sentencepiece_word_marks() -> None:
    vocab = ["<pad>", "\u2581profit", "ing", "\u2581loss", "\u2581x", "gain"]
    assert whole_words(vocab) == [(1, "profit"), (3, "loss")]


def test_neighbour_table_ranks_by_cosine_and_leaves_the_word_out() -> None:
    vocab = ["[CLS]", "rise", "rose", "fall", "table", "##s"]
    vectors = np.array(
        [
            [9.0, 9.0, 9.0],  # a special token: never a neighbour
            [1.0, 0.0, 0.0],
            [0.9, 0.1, 0.0],
            [0.5, 0.5, 0.0],
            [0.0, 0.0, 1.0],
            [1.0, 0.0, 0.0],  # a piece: never a neighbour either
        ]
    )
    table = neighbour_table(vocab, vectors, k=2)
    assert set(table) == {"rise", "rose", "fall", "table"}
    assert table["rise"] == ("rose", "fall")
    assert table["table"][0] in {"rise", "rose", "fall"}
    assert all(word not in near for word, near in table.items())


def test_neighbour_table_refuses_a_matrix_shorter_than_the_vocabulary() -> None:
    with pytest.raises(ValueError, match="2 embedding rows for a vocabulary of 3"):
        neighbour_table(["up", "down", "flat"], np.ones((2, 4)), k=1)


def test_case_follows_the_word_replaced() -> None:
    assert match_case("rose", "RISE") == "ROSE"
    assert match_case("rose", "Rise") == "Rose"
    assert match_case("rose", "rise") == "rose"


@pytest.mark.parametrize(
    ("number", "pattern"), [("12", r"\d+"), ("3.75", r"\d+\.\d\d"), ("1,5", r"\d+,\d")]
)
def test_a_redrawn_figure_keeps_its_decimals(number: str, pattern: str) -> None:
    import re

    rng = random.Random(0)
    for _ in range(50):
        drawn = redraw_number(number, rng)
        assert re.fullmatch(pattern, drawn), drawn
        assert drawn != number
        value = float(drawn.replace(",", "."))
        base = float(number.replace(",", "."))
        assert 0.5 * base - 0.01 <= value <= 2.0 * base + 0.01


def test_zero_cannot_be_redrawn_and_stays() -> None:
    assert redraw_number("0", random.Random(1)) == "0"


def test_a_variant_keeps_links_handles_and_tags_and_swaps_only_cashtags_for_tickers() -> None:
    text = "$ABC rises 5% after @analyst upgrade #stocks https://t.co/xyz"
    rng = random.Random(3)
    table = {"rises": ("falls", "climbs"), "upgrade": ("downgrade",), "after": ("before",)}
    for _ in range(100):
        made = variant(text, rng, table, ["XYZ"], p_swap=1.0, p_drop=0.0, p_other=1.0)
        words = made.split()
        assert words[0] == "$XYZ"
        assert words[1] in {"falls", "climbs"}
        assert "@analyst" in words and "#stocks" in words and "https://t.co/xyz" in words
        assert "downgrade" in words and "before" in words
        assert words[2] != "5%" and words[2].endswith("%")


def test_variants_are_distinct_new_and_reproducible() -> None:
    texts = [
        "Shares rise on strong quarter for the company",
        "Company cuts outlook as demand falls sharply",
        "Bank keeps rating at neutral on the stock",
    ]
    table = {
        "rise": ("fall", "climb"),
        "strong": ("weak", "solid"),
        "cuts": ("raises", "trims"),
        "falls": ("rises", "slips"),
        "neutral": ("buy", "sell"),
        "stock": ("shares", "equity"),
    }
    made = variants(texts, 3, 7, table, ["ABC"])
    assert made == variants(texts, 3, 7, table, ["ABC"])
    assert made != variants(texts, 3, 8, table, ["ABC"])
    assert len(made) == len(set(made))
    assert not set(made) & set(texts)
    assert 0 < len(made) <= 9


def test_a_text_with_nothing_to_change_gives_no_variant() -> None:
    assert variants(["https://t.co/a @b #c"], 2, 1, {}, []) == []
