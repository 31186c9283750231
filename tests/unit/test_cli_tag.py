"""``finsent tag`` as whoever edits a watchlist runs it."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from finsent.cli import cli
from finsent.cli.tag import columns, shorten


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.delenv("FINSENT_PIPELINE_WATCHLIST", raising=False)
    return CliRunner()


def test_each_text_gets_one_line_with_its_topics_and_tickers(runner: CliRunner) -> None:
    result = runner.invoke(
        cli,
        ["tag", "贵州茅台一季度净利润同比增长20%，股价大涨", "Turmoil in markets", "$AAPL 0700.HK"],
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("贵州茅台一季度净利润同比增长20%，股价大涨")
    assert lines[0].endswith("topics: earnings, kweichow-moutai  tickers: -")
    assert lines[1].endswith("topics: -  tickers: -")  # "oil" is not in "turmoil"
    assert lines[2].endswith("topics: apple, tencent  tickers: 0700.HK, AAPL")
    # the topics start in the same column whatever the script of the text
    assert len({sum(map(columns, line.split("topics:")[0])) for line in lines}) == 1


def test_texts_come_from_stdin_without_text_or_with_a_dash(runner: CliRunner) -> None:
    stdin = "央行宣布降息\n\n腾讯控股(00700.HK)回购股份\n"
    result = runner.invoke(cli, ["tag"], input=stdin)
    assert result.exit_code == 0, result.output
    assert [line.split("topics:")[1].strip() for line in result.output.splitlines()] == [
        "central-banks  tickers: -",
        "earnings, tencent  tickers: 0700.HK",
    ]
    result = runner.invoke(cli, ["tag", "Fed holds", "-"], input="Oil falls\n")
    assert len(result.output.splitlines()) == 2
    assert "oil-energy" in result.output.splitlines()[1]


def test_a_watchlist_file_is_used(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "w.yaml"
    path.write_text("topics:\n  - {name: moutai, keywords: [茅台], tickers: [SH600519]}\n")
    result = runner.invoke(cli, ["tag", "--watchlist", str(path), "茅台大涨", "600519.SH"])
    assert result.exit_code == 0, result.output
    assert [line.split("topics: ")[1] for line in result.output.splitlines()] == [
        "moutai  tickers: -",
        "moutai  tickers: 600519.SH",
    ]


def test_the_watchlist_setting_is_read(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "w.yaml"
    path.write_text("topics:\n  - {name: gold, keywords: [黄金, gold]}\n")
    monkeypatch.setenv("FINSENT_PIPELINE_WATCHLIST", str(path))
    assert "topics: gold" in runner.invoke(cli, ["tag", "黄金价格创新高"]).output


def test_a_malformed_watchlist_is_one_line_naming_file_and_line(
    runner: CliRunner, tmp_path: Path
) -> None:
    path = tmp_path / "w.yaml"
    path.write_text("topics:\n  - name: Bad Name\n    keywords: [a]\n")
    result = runner.invoke(cli, ["tag", "--watchlist", str(path), "text"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"error: {path} line 2: topic name 'Bad Name' must be lower-case letters, digits, "
        "'_', '.', '-'"
    ]
    result = runner.invoke(cli, ["tag", "--watchlist", str(tmp_path / "nope.yaml"), "text"])
    assert result.exit_code == 2
    assert result.stderr == f"error: {tmp_path / 'nope.yaml'}: no such file\n"


def test_long_texts_are_shortened_to_sixty_columns() -> None:
    assert shorten("short") == "short" + " " * 55
    long = shorten("word " * 30)
    assert len(long) == 60 and long.endswith("…")
    chinese = shorten("很长的标题" * 10)  # two columns a character
    assert sum(map(columns, chinese)) == 60 and chinese.rstrip().endswith("…")
    assert shorten("a\nb\tc") == "a b c" + " " * 55
