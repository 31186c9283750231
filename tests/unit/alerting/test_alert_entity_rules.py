"""Rules that watch companies: ``entities`` read and checked against the registry, and
each rule evaluating its own targets (topics, or the companies it names)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from alerts.config import load_rules
from alerts.evaluation import evaluate_round
from core.errors import ConfigFileError
from entities.registry import load_registry
from storage.articles import SeriesPoint

REGISTRY = load_registry()
RULE = (
    "  - {{name: {name}, kind: negative_surge, window: 5m, baseline: 1h, enter: 3, exit: 1.5, "
    "min_count: 5, min_baseline_count: 5, min_baseline_coverage: 0{extra}}}\n"
)


def rules_file(tmp_path: Path, *rules: tuple[str, str]) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text("rules:\n" + "".join(RULE.format(name=n, extra=e) for n, e in rules))
    return path


def test_a_rule_names_the_companies_it_watches(tmp_path: Path) -> None:
    path = rules_file(tmp_path, ("topics_surge", ""), ("apple", ", entities: [AAPL, SAP.DE]"))
    topics, apple = load_rules(path, REGISTRY).rules
    assert (topics.entities, apple.entities) == ((), ("AAPL", "SAP.DE"))
    assert topics.targets("oil") and not topics.targets("entity:AAPL")
    assert apple.targets("entity:AAPL") and not apple.targets("entity:MSFT")
    assert not apple.targets("oil")


@pytest.mark.parametrize(
    ("entities", "message"),
    [
        ("[AAPL, NOPE42]", "NOPE42 not in the company registry"),
        ("[]", "is not a list of company ids"),
        ("AAPL", "is not a list of company ids"),
        ("[aapl]", "is not a list of company ids"),
    ],
)
def test_a_bad_company_is_one_clear_line(tmp_path: Path, entities: str, message: str) -> None:
    path = rules_file(tmp_path, ("apple", f", entities: {entities}"))
    with pytest.raises(ConfigFileError) as e:
        load_rules(path, REGISTRY)
    assert message in str(e.value) and f"{path} line 2" in str(e.value)
    assert "\n" not in str(e.value)


def test_each_rule_evaluates_its_own_targets(tmp_path: Path) -> None:
    path = rules_file(tmp_path, ("topics_surge", ""), ("apple", ", entities: [AAPL]"))
    now = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    buckets = {
        key: [SeriesPoint(key, now - timedelta(minutes=1), 1, 0, 0, -0.8)]
        for key in ("oil", "entity:AAPL", "entity:MSFT")
    }
    result = evaluate_round(load_rules(path, REGISTRY), {}, buckets, now=now, as_of=now)
    assert sorted(result.observations) == ["apple/entity:AAPL", "topics_surge/oil"]
