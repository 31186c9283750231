"""The company registry: index names reduced to what headlines write, the curated file,
and a user's own companies file (added, checked, its errors naming file and line)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigFileError
from entities.registry import DEFAULT_COMPANIES, load_companies, load_registry, short_name
from entities.resolve import resolve

REGISTRY = load_registry()


@pytest.mark.parametrize(
    ("name", "short"),
    [
        ("Apple Inc.", "Apple"),
        ("Tesla, Inc.", "Tesla"),
        ("The Hershey Company", "Hershey"),
        ("Eli Lilly and Company", "Eli Lilly"),
        ("Carnival Corporation & plc", "Carnival"),
        ("KSB SE & Co. KGaA", "KSB"),
        ("ZOZO Co., Ltd", "ZOZO"),
        ("Roche Holding AG", "Roche"),
        ("Alphabet Inc. Class A", "Alphabet"),
        ("Orion Corporation (pharmaceutical company)", "Orion"),
        ("KalmarB", "Kalmar"),
        ("AbbVie", "AbbVie"),
        ("Bank of America", "Bank of America"),
    ],
)
def test_index_names_are_reduced_to_what_headlines_write(name: str, short: str) -> None:
    assert short_name(name) == short


def test_the_shipped_registry_knows_the_large_caps_by_their_headline_names() -> None:
    assert len(REGISTRY) > 1500
    apple = REGISTRY["AAPL"]
    assert (apple.ticker, apple.exchange, apple.country) == ("AAPL", "NASDAQ", "United States")
    assert "Apple" in apple.names
    sap = REGISTRY["SAP.DE"]
    assert (sap.ticker, sap.exchange, sap.country) == ("SAP", "XETRA", "Germany")
    for entity_id, alias in [
        ("GOOGL", "Google"),
        ("GOOGL", "Alphabet"),
        ("META", "Facebook"),
        ("JPM", "JPMorgan"),
        ("GS", "Goldman"),
        ("BAC", "BofA"),
        ("XOM", "Exxon"),
        ("BRK.B", "Berkshire"),
        ("NVDA", "Nvidia"),
        ("BABA", "Alibaba"),  # not in the indices: curated
    ]:
        assert alias in REGISTRY[entity_id].names, (entity_id, alias)


def test_words_and_places_are_not_plain_names() -> None:
    assert "Target" in REGISTRY["TGT"].ambiguous
    assert "Target" not in REGISTRY["TGT"].names
    assert "Ford" in REGISTRY["F"].ambiguous
    assert "City" in REGISTRY["CHCO"].generic  # City Holding: "the City" is London's
    assert "Nasdaq" in REGISTRY.not_names  # the index, not Nasdaq, Inc.
    assert "Apple pie" in REGISTRY.not_names
    every_name = [n for e in REGISTRY for n in e.names]
    assert "Merck" in REGISTRY["MRK"].names  # two Mercks: the curated file decides
    assert every_name.count("Merck") == 1


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "my-companies.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_user_file_adds_a_company_and_names(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
companies:
  - id: ACME.L
    name: Acme Rockets plc
    aliases: [Acme Rockets, Acme]
    symbols: [ACMRY]
    country: United Kingdom
  - id: AAPL
    aliases: [Cupertino giant]
not_names:
  - Acme Corner Shop
""",
    )
    registry = load_registry(path)
    acme = registry["ACME.L"]
    assert (acme.ticker, acme.exchange, acme.country) == ("ACME", "LSE", "United Kingdom")
    assert len(registry) == len(REGISTRY) + 1
    assert [m.entity_id for m in resolve(registry, "Acme shares jump; $ACMRY up")] == ["ACME.L"]
    assert [m.entity_id for m in resolve(registry, "Cupertino giant cuts prices")] == ["AAPL"]
    assert resolve(registry, "Acme Corner Shop closes") == []
    assert resolve(REGISTRY, "Acme shares jump") == []  # the shipped registry is unchanged


def test_a_name_given_again_moves_to_the_later_company(tmp_path: Path) -> None:
    path = write(tmp_path, "companies:\n  - {id: APLE, aliases: [Apple]}\n")
    registry = load_registry(path)
    assert [m.entity_id for m in resolve(registry, "Apple raises dividend")] == ["APLE"]
    assert "Apple" not in registry["AAPL"].names


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("companies:\n  - id: ACME\n    aliases: [Acme\n", 4, "expected"),  # YAML syntax
        ("companies:\n  - id: ACME\n    name: Acme\n    tickr: ACM\n", 2, "unknown key"),
        ("companies:\n  - id: acme\n    name: Acme\n", 2, "must be a symbol"),
        ("companies:\n  - name: Acme\n", 2, "must be a symbol"),
        ("companies:\n  - id: ON\n    name: Onsemi\n", 2, "quote the id"),
        ("companies:\n  - id: ACME\n    aliases: [Acme]\n", 2, "needs a name"),
        ("companies:\n  - id: ACME\n    name: Acme\n    aliases: Acme\n", 2, "list of"),
        (
            "companies:\n  - {id: ACME, name: Acme, aliases: [Ac]}\n"
            "  - {id: ACMF, name: Acme F, aliases: [Ac]}\n",
            3,
            "also given to ACME",
        ),
        ("companies: []\ncolour: red\n", 1, "unknown key"),
    ],
)
def test_a_malformed_file_names_the_file_and_line(
    tmp_path: Path, text: str, line: int, message: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigFileError) as raised:
        load_registry(path)
    assert str(raised.value).startswith(f"{path} line {line}")
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_a_missing_file_is_one_clear_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigFileError, match="no such file"):
        load_registry(tmp_path / "absent.yaml")


def test_the_shipped_file_loads_and_every_id_is_in_the_registry() -> None:
    curated = load_companies(DEFAULT_COMPANIES)
    assert len(curated.companies) > 100
    assert all(c.id in REGISTRY for c in curated.companies)
