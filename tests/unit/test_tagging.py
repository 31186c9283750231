"""Topic tagging on word boundaries, case rules, tickers, Chinese text, and the watchlist
file."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigFileError
from finsent.datasets import tfns_csv
from streams.tagging import (
    DEFAULT_WATCHLIST,
    Watchlist,
    find_tickers,
    fold_width,
    load_watchlist,
    normalise_ticker,
    tag,
)

WATCHLIST = load_watchlist()


@pytest.mark.parametrize(
    ("headline", "expected"),
    [
        ("Fed signals a rate cut as inflation cools", {"central-banks", "inflation"}),
        ("Oil prices jump after OPEC+ output cut", {"oil-energy"}),
        ("Turmoil in markets", set()),  # 'oil' inside 'turmoil' is no match
        ("Residents fed up with delays", set()),  # 'fed' the word, not the Fed
        ("Apple unveils new iPhone; $AAPL rises", {"apple"}),
        ("apple harvest hit by frost", set()),  # the fruit, lower case
        ("Exxon agrees takeover of rival", {"exxon", "mergers-acquisitions"}),
        ("Bitcoin falls 8% as crypto selloff deepens", {"crypto"}),
        ("Tech giant to cut 10,000 jobs in restructuring", {"layoffs"}),
        ("SEC sues exchange over unregistered securities", {"regulation"}),
        ("Stock rallies after third-quarter earnings beat", {"earnings"}),
        ("Treasury yields climb as bond market sells off", {"banks-credit"}),
        ("Central bank holds interest rates steady", {"central-banks"}),
        # Chinese: phrases match without spaces around them
        ("贵州茅台一季度净利润同比增长20%，股价大涨", {"kweichow-moutai", "earnings"}),
        ("某公司因财务造假被证监会立案调查，股价跌停", {"regulation"}),
        ("美联储维持利率不变，鲍威尔称通胀仍高于目标", {"central-banks", "inflation"}),
        ("央行宣布降息25个基点", {"central-banks"}),
        ("国际油价大涨，布伦特原油突破每桶85美元", {"oil-energy"}),
        ("某互联网巨头宣布裁员约10%", {"layoffs"}),
        ("国家统计局：5月CPI同比上涨0.3%", {"inflation"}),  # an English alias amid Chinese
        ("美国对部分中国商品加征关税", {"trade-tariffs"}),
        ("比特币价格跌破6万美元", {"crypto"}),
        ("腾讯控股(00700.HK)公布业绩", {"tencent", "earnings"}),  # by ticker and by name
        ("英伟达$NVDA逆势上涨", {"nvidia"}),
        ("黄金价格创历史新高", set()),
    ],
)
def test_default_watchlist(headline: str, expected: set[str]) -> None:
    tags = tag(WATCHLIST, headline)
    assert tags.topics[0] == "market"
    assert set(tags.topics[1:]) == expected


def test_the_market_topic_is_always_there() -> None:
    assert tag(WATCHLIST, "Nothing of note happened").topics == ("market",)


def test_cashtags_become_tickers_but_prices_do_not() -> None:
    assert find_tickers("$aapl and $MSFT up; $BRK.B flat; paid $60 for it; a$b") == {
        "AAPL",
        "MSFT",
        "BRK.B",
    }
    assert tag(WATCHLIST, "Shares of $TSLA slide").topics == ("market", "tesla")
    assert tag(WATCHLIST, "$XYZ jumps").tickers == ("XYZ",)


def test_ticker_forms_become_one_form() -> None:
    text = "600519.SH SH600519 600519.ss sh600519 000001.SZ SZ000001 00700.HK 0700.HK $AAPL"
    assert find_tickers(text) == {"600519.SH", "000001.SZ", "0700.HK", "AAPL"}
    assert find_tickers("腾讯(00700.HK)、小米01810.HK、比亚迪1211.hk") == {
        "0700.HK",
        "1810.HK",
        "1211.HK",
    }
    assert find_tickers("$贵州茅台(SH600519)$ 北交所830799.BJ") == {"600519.SH", "830799.BJ"}
    assert find_tickers("苹果$AAPL跌超3%") == {"AAPL"}  # a CJK neighbour is a boundary


@pytest.mark.parametrize(
    ("text", "tickers"),
    [
        ("贵州茅台600519收盘报1680元", {"600519.SH"}),  # a bare code in Chinese text
        ("贵州茅台（600519），股价大涨", {"600519.SH"}),
        ("平安银行000001股价创新高", {"000001.SZ"}),  # 股价 is no amount of shares
        ("宁德时代300750与中芯国际688981", {"300750.SZ", "688981.SH"}),
        ("贵州茅台（６００５１９）涨", {"600519.SH"}),  # full-width digits
        ("成交额600519元", set()),  # an amount
        ("成交额600519 万元", set()),
        ("累计回购600000股", set()),  # shares
        ("每股600519.50港元", set()),  # a price
        ("约600000人参加", set()),
        ("第600001号公告", set()),
        ("编号6005191的订单", set()),  # part of a longer number
        ("区间600000-600100之间", set()),
        ("股票代码为830799", set()),  # not a Shanghai or Shenzhen prefix
        ("Order 600519 shipped", set()),  # no Chinese context
        ("上证指数000001.SH收涨", {"000001.SH"}),  # the exchange given wins
        ("0000.HK 600519.SHX X600519.SH 1.600519.SH", set()),
    ],
)
def test_a_bare_code_needs_a_chinese_context_and_no_amount(text: str, tickers: set[str]) -> None:
    assert find_tickers(text) == tickers


def test_a_watchlist_writes_tickers_in_any_form(tmp_path: Path) -> None:
    assert [normalise_ticker(t) for t in ["$aapl", "brk.b", "sh600519", "600519.SS"]] == [
        "AAPL",
        "BRK.B",
        "600519.SH",
        "600519.SH",
    ]
    assert [normalise_ticker(t) for t in ["000001", "00700.hk", "700.HK", "９９８８.HK"]] == [
        "000001.SZ",
        "0700.HK",
        "0700.HK",
        "9988.HK",
    ]
    path = write(tmp_path, "topics:\n  - {name: moutai, tickers: [SH600519]}\n")
    w = load_watchlist(path)
    assert tag(w, "600519.SH hits a record").topics == ("market", "moutai")
    assert tag(w, "贵州茅台600519创新高").tickers == ("600519.SH",)


def test_full_width_forms_read_as_ascii() -> None:
    assert fold_width("Ａ股２０％，＄ＡＡＰＬ\u3000ｏｉｌ") == "A股20%,$AAPL oil"
    assert fold_width("½ ™ ﬁnance café “quoted”") == "½ ™ ﬁnance café “quoted”"  # not NFKC
    assert tag(WATCHLIST, "ＯＩＬ　ｐｒｉｃｅｓ　ｊｕｍｐ；＄ＸＯＭ").topics == (
        "market",
        "oil-energy",
        "exxon",
    )


def test_chinese_phrases_need_no_boundary_latin_edges_keep_theirs(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
topics:
  - {name: moutai, keywords: [贵州茅台, 茅台]}
  - {name: csrc, keywords: [证监会, 立案调查]}
  - {name: a-shares, keywords: [A股, 港股通, MSCI中国]}
  - {name: oil, keywords: [oil, 原油]}
  - {name: fed, aliases: [Fed]}
""",
    )
    w = load_watchlist(path)
    assert tag(w, "贵州茅台一季度净利润同比增长20%，股价大涨").topics == ("market", "moutai")
    assert tag(w, "某公司因财务造假被证监会立案调查，股价跌停").topics == ("market", "csrc")
    for text in ["沪深A股收涨", "港股通南向资金", "纳入MSCI中国指数", "Ａ股大涨", "MSCI中国A50"]:
        assert tag(w, text).topics == ("market", "a-shares"), text
    for text in ["DA股", "XMSCI中国", "2A股"]:  # a Latin edge keeps its boundary
        assert "a-shares" not in tag(w, text).topics, text
    assert tag(w, "Turmoil in markets").topics == ("market",)
    assert tag(w, "turmoil原油").topics == ("market", "oil")
    assert tag(w, "国际油价oil上涨").topics == ("market", "oil")  # CJK next to a word: a boundary
    assert tag(w, "美联储Fed宣布").topics == ("market", "fed")
    assert tag(w, "美联储fed宣布").topics == ("market",)  # aliases keep their case


def test_the_body_counts_too() -> None:
    assert "oil-energy" in tag(WATCHLIST, "Markets move", body="Crude climbs").topics


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "watchlist.yaml"
    path.write_text(text)
    return path


def test_a_custom_watchlist(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
market_topic: all
topics:
  - name: chips
    keywords: [semiconductor, chip maker]
    patterns: ['\\bfab(s)?\\b']
  - {name: acme, aliases: [ACME Corp], tickers: [$acme]}
""",
    )
    w = load_watchlist(path)
    assert w.names == ["all", "chips", "acme"]
    assert tag(w, "Chip   maker opens two new fabs").topics == ("all", "chips")
    assert tag(w, "$ACME up").topics == ("all", "acme")
    assert tag(w, "Acme corp up").topics == ("all",)  # aliases are case-sensitive


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("topics: [\n  - name: x\n    keywords: [a\n", "line"),
        ("topics:\n  - name: Bad Name\n    keywords: [a]\n", "line 2: topic name 'Bad Name'"),
        ("topics:\n  - name: ok\n    patterns: ['(']\n", "line 2 (topic 'ok') pattern '('"),
        ("topics:\n  - name: ok\n    keyword: [a]\n", "line 2: unknown key(s) ['keyword']"),
        ("topics:\n  - name: ok\n", "line 2 (topic 'ok'): give keywords"),
        ("topics:\n  - name: ok\n    keywords: a\n", "'keywords' must be a list"),
        (
            "topics:\n  - {name: a, keywords: [x]}\n  - {name: a, keywords: [y]}\n",
            "line 3: topic 'a' is listed twice",
        ),
        ("just a string\n", "expected a mapping with a 'topics' list"),
    ],
)
def test_a_malformed_watchlist_names_the_line(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigFileError) as e:
        load_watchlist(path)
    assert str(path) in str(e.value)
    assert message in str(e.value)


def test_a_missing_watchlist_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigFileError, match="no such file"):
        load_watchlist(tmp_path / "nope.yaml")


def test_the_default_watchlist_is_shipped() -> None:
    assert DEFAULT_WATCHLIST.is_file()
    assert len(WATCHLIST.topics) >= 40


def every_topic(w: Watchlist, text: str) -> tuple[str, ...]:
    """The reference: every topic's regular expressions on the text (full-width forms
    read as ASCII, as ``tag`` reads them)."""
    text = fold_width(text)
    tickers = find_tickers(text)
    return (w.market_topic, *(t.name for t in w.topics if t.matches(text, tickers)))


SHIPPED_HEADLINES = tfns_csv("valid")
AWKWARD = [
    "FED HIKES RATES",  # upper case keywords
    "fed hikes",  # an alias in the wrong case
    "Apple’s shares and Microsoft—Nvidia results",  # curly quote and dash
    "İnflation ınflation ſoftbank oil",  # letters IGNORECASE folds to ASCII
    "\u212aelvin: KPMG oil \u212a",  # the Kelvin sign lowers to k
    "Nestlé and Société Générale merge",
    "S&P 500 falls; M&A wave; Q3 earnings",
    "$AAPL $msft $BRK.B up, $tsla down",
    "oil\u00a0prices (no-break space) and interest\trates",
    "Crude-oil, bank-run, rate_cut, rates2025, 10-K filing",
    "",
    "   ",
    "🚀🚀 bitcoin to the moon 🌕",
]
CHINESE = [
    "贵州茅台一季度净利润同比增长20%，股价大涨",
    "某公司因财务造假被证监会立案调查，股价跌停",
    "美联储Fed维持利率不变，鲍威尔称通胀仍高于目标",
    "国家统计局：5月CPI同比上涨0.3%，PPI同比下降1.4%",
    "OPEC+同意延长减产协议，油价应声上涨；oil原油WTI",
    "腾讯控股(00700.HK)回购股份；苹果$AAPL跌超3%；SH600519",
    "Ａ股三大指数集体收涨，ＭＳＣＩ中国指数下跌２．１％",
    "沪深A股、港股通、MSCI中国与中国人民银行",
    "贵州 茅台　股价",
    "トヨタ自動車が決算発表、円安で利益増",
    "삼성전자 실적 발표, 금리 인하 기대",
    "々〆〇 一 乙 𠀀𠀁 豈",
    "中文English混排ＦＥＤ fed Fed 美联储",
]


def test_the_index_finds_exactly_what_every_topic_finds() -> None:
    import csv

    with SHIPPED_HEADLINES.open(encoding="utf-8") as f:
        texts = [*AWKWARD, *CHINESE, *(row["text"] for row in csv.DictReader(f))]
    tagged = 0
    for text in texts:
        got = tag(WATCHLIST, text).topics
        assert got == every_topic(WATCHLIST, text), text
        tagged += len(got) > 1
    assert tagged >= 5


def test_an_ascii_text_gets_what_the_cjk_aware_expressions_find() -> None:
    """Tagging an ASCII text runs the phrases on plain ``\\w`` boundaries (the faster
    expressions); the CJK-aware ones must find the same on every text without CJK."""
    import csv

    with SHIPPED_HEADLINES.open(encoding="utf-8") as f:
        texts = [*AWKWARD, *(row["text"] for row in csv.DictReader(f))]
    for topic in WATCHLIST.topics:
        for phrases in (topic.insensitive, topic.sensitive):
            if phrases is None or phrases.ascii is None:
                continue
            for text in texts:
                text = fold_width(text)
                assert (phrases.any.search(text) is None) == (phrases.ascii.search(text) is None), (
                    topic.name,
                    text,
                )


def test_the_index_keeps_patterns_and_non_ascii_phrases(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
topics:
  - {name: chips, keywords: [chip maker], patterns: ['fab(s)?\\b']}
  - {name: nestle, aliases: [Nestlé]}
  - {name: sp, keywords: ['S&P 500', '#AI']}
  - {name: tickers-only, tickers: [$ACME]}
  - {name: a-shares, keywords: [A股, MSCI中国, 港股通, 贵州 茅台]}
  - {name: cjk, aliases: [トヨタ, 삼성전자, 股]}
""",
    )
    w = load_watchlist(path)
    for text in [
        "Megafabs planned",
        "NESTLÉ? no: Nestlé rises",
        "s&p 500 record",
        "#ai stocks",
        "$acme up",
        "ACME up",
        *AWKWARD,
        *CHINESE,
    ]:
        assert tag(w, text).topics == every_topic(w, text), text
    assert tag(w, "Megafabs planned").topics == ("market", "chips")
    assert tag(w, "Nestlé rises").topics == ("market", "nestle")
    assert tag(w, "s&p 500 record, #ai too").topics == ("market", "sp")
    assert tag(w, "沪深A股, 贵州  茅台").topics == ("market", "a-shares", "cjk")
    assert tag(w, "トヨタ決算").topics == ("market", "cjk")
