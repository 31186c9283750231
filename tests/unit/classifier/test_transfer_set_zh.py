"""The generator of labelled Chinese training texts (issue 26, item 1): deterministic,
balanced, unique, and labels that the wording never contradicts outside the hard cases."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bench.transfer_set_zh import (
    HARD_KINDS,
    NEGATIVE,
    NEUTRAL,
    POSITIVE,
    REGISTERS,
    TO_TRADITIONAL,
    Sample,
    generate,
    to_traditional,
    write_csv,
)
from classifier.data import load_csv
from classifier.labels import DEFAULT_LABEL_MAP, parse_label_map

N, SEED = 600, 11
#: Words that state a rise or an improvement, and a fall or a worsening.
UP = ("增长", "提升", "上涨", "大涨", "收涨", "涨停", "上调", "预增", "增持", "反弹", "扭亏为盈")
DOWN: tuple[str, ...] = ("下降", "下滑", "下跌", "大跌", "收跌", "跌停", "下调", "预减", "减持")
DOWN += ("跳水", "扩大", "由盈转亏", "首亏")
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def samples() -> list[Sample]:
    return generate(N, SEED)


def has(text: str, words: tuple[str, ...]) -> bool:
    """Whether ``text`` has one of ``words``, in simplified or traditional characters."""
    return any(w in text or to_traditional(w) in text for w in words)


def test_the_same_seed_gives_the_same_texts(samples: list[Sample]) -> None:
    assert generate(N, SEED) == samples
    assert [s.text for s in generate(N, SEED + 1)] != [s.text for s in samples]


def test_labels_are_balanced_within_five_points(samples: list[Sample]) -> None:
    assert len(samples) == N
    for label in (NEGATIVE, POSITIVE, NEUTRAL):
        share = sum(s.label == label for s in samples) / N
        assert abs(share - 1 / 3) <= 0.05, (label, share)


def test_no_text_comes_twice(samples: list[Sample]) -> None:
    assert len({s.text for s in samples}) == N


def test_every_text_is_chinese_and_every_register_is_there(samples: list[Sample]) -> None:
    assert all(CJK.search(s.text) for s in samples)
    assert {s.register for s in samples} == set(REGISTERS)
    for s in samples:
        if s.register == "headline":
            assert s.text[-1] not in "。！？", s.text
        elif s.register in ("report", "analyst"):
            assert s.text.endswith("。"), s.text


def test_simple_figures_agree_with_their_label(samples: list[Sample]) -> None:
    figures = [s for s in samples if s.kind == "figure"]
    assert len(figures) > 30
    for s in figures:
        if s.label == POSITIVE:
            assert has(s.text, UP) and not has(s.text, DOWN), s
        elif s.label == NEGATIVE:
            assert has(s.text, DOWN) and not has(s.text, UP), s
        else:
            assert "持平" in s.text and not has(s.text, UP + DOWN), s


def test_direction_words_contradict_the_label_only_in_hard_cases(samples: list[Sample]) -> None:
    for s in samples:
        if s.kind in HARD_KINDS:
            continue
        if s.label == NEGATIVE:
            assert not has(s.text, UP), s
        elif s.label == POSITIVE:
            assert not has(s.text, DOWN), s
        else:
            assert not has(s.text, UP + DOWN), s
    contrary = [
        s
        for s in samples
        if (s.label == NEGATIVE and has(s.text, UP)) or (s.label == POSITIVE and has(s.text, DOWN))
    ]
    assert contrary and all(s.kind in HARD_KINDS for s in contrary)


def test_figures_are_never_negative(samples: list[Sample]) -> None:
    for s in samples:
        # a hyphen before a digit is only a range's, after a percentage or a time
        assert not re.search(r"(?<![%\d])-\d", s.text), s.text
        assert not re.search(r"(增长|增長|下降|提升|下滑|收窄)-", s.text), s.text


def test_hard_cases_and_traditional_texts_come_in_fair_measure(samples: list[Sample]) -> None:
    hard = [s for s in samples if s.kind in HARD_KINDS]
    assert 0.15 <= len(hard) / N <= 0.5
    assert {s.kind for s in hard} == set(HARD_KINDS)
    traditional = [s for s in samples if s.traditional]
    assert 0.05 <= len(traditional) / N <= 0.16
    assert all(to_traditional(s.text) == s.text for s in traditional)
    converted = set(TO_TRADITIONAL.values())
    assert all(converted & set(s.text) for s in traditional)
    assert to_traditional("业绩增长，股价涨停") == "業績增長，股價漲停"


def test_the_csv_loads_as_a_soft_labelled_training_set(
    samples: list[Sample], tmp_path: Path
) -> None:
    out = tmp_path / "zh.csv"
    write_csv(samples, out, smoothing=0.1)
    data = load_csv(out, parse_label_map(DEFAULT_LABEL_MAP))
    assert data.texts == [s.text for s in samples]
    assert data.counts() == {"negative": 200, "neutral": 200, "positive": 200}
    assert data.soft is not None
    for s, soft, label in zip(samples, data.soft, data.labels, strict=True):
        assert max(range(3), key=lambda i: soft[i]) == label
        if s.kind != "loss_narrowing":
            assert soft[label] == pytest.approx(0.9)
    plain = tmp_path / "plain.csv"
    write_csv(samples, plain, smoothing=0.1, soft=False)
    assert plain.read_text(encoding="utf-8").splitlines()[0] == "text,label"


def test_the_shipped_multilingual_set_is_the_distillation_set_and_the_seed_1_texts() -> None:
    """``finsent/data/multilingual/train.csv`` is what its README says: the distillation
    set's tweets and first 6,000 generated texts, then the generator's 6,000 Chinese
    texts of seed 1; none of them is in the Chinese evaluation set or the Chinese demo."""
    import csv

    from finsent.datasets import DISTIL_CSV, MULTILINGUAL_CSV, ZH_EVAL_CSV
    from sources.demo import DEMO_ZH_CSV

    def texts(path: Path) -> list[str]:
        with path.open(encoding="utf-8", newline="") as f:
            return [row["text"] for row in csv.DictReader(f)]

    shipped, distil = texts(MULTILINGUAL_CSV), texts(DISTIL_CSV)[:15_543]
    assert shipped[: len(distil)] == distil
    assert shipped[len(distil) :] == [s.text for s in generate(6000, 1)]
    assert not set(shipped) & (set(texts(ZH_EVAL_CSV)) | set(texts(DEMO_ZH_CSV)))
