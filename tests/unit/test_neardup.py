"""Near-duplicate headlines: syndicated copies found, different stories kept apart."""

from __future__ import annotations

import zlib
from datetime import UTC, datetime, timedelta

import pytest

from core.titles import normalise_title, shingles, title_shingles
from sources.neardup import MinHasher, NearDupIndex, similarity

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_normalise_title_drops_outlet_case_accents_and_punctuation() -> None:
    assert normalise_title("Oil Prices JUMP, as OPEC Cuts Output - Reuters") == (
        "oil prices jump as opec cuts output"
    )
    assert normalise_title("Café stocks rally | MarketWatch") == "cafe stocks rally"


def test_normalise_a_chinese_title() -> None:
    assert normalise_title("【快讯】贵州茅台：一季度净利润增长２０％，股价大涨 - 新浪财经") == (
        "快讯 贵州茅台 一季度净利润增长20 股价大涨"
    )
    assert normalise_title("トヨタが決算") == "トヨタが決算"  # kana keep their voicing mark
    assert normalise_title("삼성전자 실적") == "삼성전자 실적"  # Hangul stays whole


def test_chinese_titles_are_shingled_by_characters_english_ones_as_before() -> None:
    english = normalise_title("Oil prices jump as OPEC cuts output")
    assert title_shingles(english) == shingles(english)
    chinese = normalise_title("贵州茅台：一季度净利润，增长20%")
    # the 3-grams of the CJK characters run together, and the other words whole
    assert title_shingles(chinese) == shingles("贵州茅台一季度净利润增长", 3) | {zlib.crc32(b"20")}


def test_similarity_estimates_jaccard() -> None:
    h = MinHasher(num_perm=256)
    a = shingles(normalise_title("Oil prices jump as OPEC cuts output"))
    b = shingles(normalise_title("Oil prices jump as OPEC cuts its output"))
    c = shingles(normalise_title("Apple unveils a new iPhone in California"))
    true_ab = len(a & b) / len(a | b)
    assert similarity(h.signature(a), h.signature(b)) == pytest.approx(true_ab, abs=0.1)
    assert similarity(h.signature(a), h.signature(c)) < 0.15
    assert similarity(h.signature(a), h.signature(a)) == 1.0


def test_three_outlets_one_story() -> None:
    index = NearDupIndex(threshold=0.6)
    first = index.check("r", "Oil prices jump as OPEC cuts output - Reuters", T0)
    second = index.check(
        "b", "Oil Prices Jump As OPEC Cuts Output | Bloomberg", T0 + timedelta(minutes=3)
    )
    third = index.check("c", "Oil prices jump as OPEC cuts its output", T0 + timedelta(minutes=9))
    other = index.check(
        "d", "Apple beats earnings estimates on iPhone sales", T0 + timedelta(minutes=10)
    )
    assert (first, second, third, other) == (None, "r", "r", None)


def test_reposts_of_a_chinese_headline_are_one_story() -> None:
    index = NearDupIndex(threshold=0.6)
    titles = [
        ("a", "贵州茅台一季度净利润同比增长20%，股价大涨"),
        ("b", "贵州茅台一季度净利润同比增长20% 股价大涨 - 新浪财经"),  # another outlet
        ("c", "贵州茅台一季度净利同比增长20%，股价大涨"),  # a word shortened
        ("d", "贵州茅台：一季度净利润同比增长２０％，股价应声大涨"),  # full width, a word more
        ("e", "某公司因财务造假被证监会立案调查，股价跌停"),  # other stories
        ("f", "贵州茅台一季度营收同比下降5%，股价跌停"),
        ("g", "贵州茅台股价创历史新高"),
        ("h", "某公司因财务造假被证监会立案调查 股价跌停｜财联社"),
    ]
    roots = [index.check(i, t, T0 + timedelta(minutes=n)) for n, (i, t) in enumerate(titles)]
    assert roots == [None, "a", "a", "a", None, None, None, "e"]


def test_the_window_forgets_old_stories() -> None:
    index = NearDupIndex(window=timedelta(hours=1))
    assert index.check("a", "Fed holds rates steady", T0) is None
    assert index.check("b", "Fed holds rates steady", T0 + timedelta(hours=2)) is None
    assert len(index) == 1


def test_similar_but_different_stories_are_not_duplicates() -> None:
    index = NearDupIndex(threshold=0.6)
    assert index.check("a", "Tesla shares rise 5% after delivery beat", T0) is None
    assert index.check("b", "Ford shares fall 7% after recall of pickups", T0) is None


def test_the_same_id_again_is_not_its_own_duplicate() -> None:
    index = NearDupIndex()
    assert index.check("a", "Bitcoin tumbles below $60,000", T0) is None
    assert index.check("a", "Bitcoin tumbles below $60,000", T0) is None


def test_bad_threshold() -> None:
    with pytest.raises(ValueError, match="threshold"):
        NearDupIndex(threshold=0)


def alike(n: int) -> str:
    """Titles that are all near-duplicates of one another (the quadratic worst case)."""
    return f"Acme Corp shares fall sharply after profit warning, analysts say {n}"


def test_work_per_title_is_bounded_when_every_title_is_alike(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sources.neardup as neardup

    calls = 0
    compare = neardup.similarity

    def counted(a: neardup.Signature, b: neardup.Signature) -> float:
        nonlocal calls
        calls += 1
        return compare(a, b)

    monkeypatch.setattr(neardup, "similarity", counted)
    index = NearDupIndex(max_candidates=8, max_bucket=4)
    t0 = datetime(2026, 3, 2, tzinfo=UTC)
    roots = [index.check(f"i{n}", alike(n), t0 + timedelta(seconds=n)) for n in range(2000)]
    assert roots[0] is None and set(roots[1:]) == {"i0"}  # still one story, the first report
    assert calls <= 8 * 1999
    assert max(len(b) for b in index._buckets.values()) <= 4
    assert len(index) == 2000  # every title is still remembered, by id


def test_memory_is_bounded_by_max_entries() -> None:
    index = NearDupIndex(max_entries=100)
    t0 = datetime(2026, 3, 2, tzinfo=UTC)
    for n in range(250):
        index.check(f"i{n}", f"Unrelated story number {n} about topic {n * 7919}", t0)
    assert len(index) == 100
    assert "i249" in index._by_id and "i149" not in index._by_id  # the newest are kept
    assert sum(len(b) for b in index._buckets.values()) <= 100 * index.bands
