"""An item's language: declared, else told from its script (issue 26, item 2)."""

from __future__ import annotations

import pytest

from streams.language import detect_language, item_language, primary_language


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("Fed holds rates steady as inflation cools", "en"),
        ("Société Générale shares slip", "en"),  # Latin script: the English model
        ("央行宣布降准0.5个百分点", "zh"),
        ("貴州茅台(600519.SH)一季度淨利潤同比增長15%", "zh"),  # traditional
        ("腾讯控股(00700.HK)发布Q3财报，营收超预期", "zh"),  # tickers and Latin inside
        ("Apple 发布新款 iPhone，股价上涨", "zh"),  # an English name in a Chinese headline
        ("Tencent shares rise after earnings beat; 腾讯 up 3%", "en"),  # one Chinese word
        ("トヨタ自動車、通期予想を上方修正", "ja"),
        ("삼성전자 주가 상승", "ko"),
        ("", "en"),
        ("12345 %", "en"),
    ],
)
def test_the_language_of_a_text_from_its_script(text: str, lang: str) -> None:
    assert detect_language(text) == lang


@pytest.mark.parametrize(
    ("tag", "primary"),
    [("zh-CN", "zh"), ("zh-Hant-TW", "zh"), ("EN", "en"), (" en-us ", "en"), ("", None)],
)
def test_primary_subtags(tag: str, primary: str | None) -> None:
    assert primary_language(tag) == primary


@pytest.mark.parametrize("tag", ["7", "zh_CN", "en-", "a", "中文"])
def test_what_is_not_a_language_tag(tag: str) -> None:
    assert primary_language(tag) is None


def test_a_declared_language_wins_over_the_script() -> None:
    assert item_language("zh-TW", "TSMC raises its outlook") == "zh"
    assert item_language(None, "台积电上调全年展望") == "zh"
    assert item_language("bogus tag!", "台积电上调全年展望") == "zh"  # unusable: the script
