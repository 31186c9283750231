"""Alert rules that watch companies: a negative surge on one company fires on its series
(``entity:<id>``), with its headlines, while the topics and other companies stay quiet."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine

from alerts.config import load_rules
from alerts.evaluator import evaluate_once
from entities.registry import load_registry
from storage.alerts import list_alerts
from storage.articles import EntityMention, ScoredArticle, save_scored_batch
from tests.alerting_support import FAST_RULES, article, config_for

#: The fast test rule, watching two companies instead of the topics.
ENTITY_RULES = FAST_RULES.replace(
    "  - name: negative_surge\n    kind: negative_surge\n",
    "  - name: company_negative_surge\n    kind: negative_surge\n    entities: [AAPL, MSFT]\n",
)


def naming(item: ScoredArticle, entity_id: str) -> ScoredArticle:
    return replace(item, id=f"{entity_id}-{item.id}", entities=(EntityMention(entity_id, 95),))


def plant(engine: Engine, now: datetime) -> None:
    """An hour of calm news on Apple and Microsoft, then ten negative items on Apple alone
    in the last five closed minutes, all on the topic ``tech``."""
    edge = now.replace(second=0, microsecond=0) - timedelta(minutes=1)
    calm = [
        naming(
            article(i, "tech", "neutral", edge - timedelta(minutes=65) + timedelta(minutes=2 * i)),
            entity,
        )
        for i in range(30)
        for entity in ("AAPL", "MSFT")
    ]
    surge = [
        naming(
            article(
                i,
                "tech",
                "negative",
                edge - timedelta(minutes=4, seconds=-20 * i),
                title=f"Apple recalls batch {i} of iPhones",
            ),
            "AAPL",
        )
        for i in range(10)
    ]
    save_scored_batch(engine, calm + surge)


def test_a_negative_surge_on_one_company_fires_for_it_alone(db: Engine, tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(ENTITY_RULES)
    config = config_for(load_rules(path, load_registry()), ())
    now = datetime.now(UTC)
    plant(db, now)
    (event,) = evaluate_once(db, config, now).events
    assert (event["status"], event["rule"], event["topic"]) == (
        "firing",
        "company_negative_surge",
        "entity:AAPL",
    )
    assert event["headlines"] and all("Apple recalls" in h["title"] for h in event["headlines"])
    assert [(a.rule, a.topic) for a in list_alerts(db)] == [
        ("company_negative_surge", "entity:AAPL")
    ]


def test_topic_rules_do_not_watch_companies(db: Engine, tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(FAST_RULES)
    config = config_for(load_rules(path), ())
    now = datetime.now(UTC)
    plant(db, now)
    events = evaluate_once(db, config, now).events
    assert [(e["rule"], e["topic"]) for e in events] == [("negative_surge", "tech")]


def test_a_round_reads_the_buckets_of_the_companies_its_rules_name_only(
    db: Engine, tmp_path: Path
) -> None:
    """A feed names hundreds of companies; a round reads the topics' buckets and those of
    the companies some rule names, not every company's."""
    from alerts.config import RuleSet
    from storage.alerts import read_buckets

    now = datetime.now(UTC)
    plant(db, now)
    path = tmp_path / "rules.yaml"
    path.write_text(ENTITY_RULES.replace("[AAPL, MSFT]", "[AAPL]"))
    ruleset = load_rules(path, load_registry())
    assert ruleset.entity_keys == {"entity:AAPL"}
    assert RuleSet(()).entity_keys == frozenset()
    start = now - timedelta(hours=2)
    with db.connect() as conn:
        every = read_buckets(conn, start, now)
        named = read_buckets(conn, start, now, entity_keys=ruleset.entity_keys)
        topics_only = read_buckets(conn, start, now, entity_keys=frozenset())
    assert {"tech", "entity:AAPL", "entity:MSFT"} <= set(every)
    assert set(named) == set(every) - {"entity:MSFT"}
    assert set(topics_only) == set(every) - {"entity:AAPL", "entity:MSFT"}
    assert named["entity:AAPL"] == every["entity:AAPL"]
