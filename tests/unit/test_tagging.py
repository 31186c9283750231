"""Topic tagging on word boundaries, case rules, cashtags, and the watchlist file."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigFileError
from finsent.datasets import tfns_csv
from streams.tagging import DEFAULT_WATCHLIST, Watchlist, find_tickers, load_watchlist, tag

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
    """The reference: every topic's regular expressions on the text."""
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


def test_the_index_finds_exactly_what_every_topic_finds() -> None:
    import csv

    with SHIPPED_HEADLINES.open(encoding="utf-8") as f:
        texts = [*AWKWARD, *(row["text"] for row in csv.DictReader(f))]
    tagged = 0
    for text in texts:
        got = tag(WATCHLIST, text).topics
        assert got == every_topic(WATCHLIST, text), text
        tagged += len(got) > 1
    assert tagged >= 5


def test_the_index_keeps_patterns_and_non_ascii_phrases(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
topics:
  - {name: chips, keywords: [chip maker], patterns: ['fab(s)?\\b']}
  - {name: nestle, aliases: [Nestlé]}
  - {name: sp, keywords: ['S&P 500', '#AI']}
  - {name: tickers-only, tickers: [$ACME]}
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
    ]:
        assert tag(w, text).topics == every_topic(w, text), text
    assert tag(w, "Megafabs planned").topics == ("market", "chips")
    assert tag(w, "Nestlé rises").topics == ("market", "nestle")
    assert tag(w, "s&p 500 record, #ai too").topics == ("market", "sp")
