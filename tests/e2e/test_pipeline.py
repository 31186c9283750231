"""The streaming pipeline end to end: a real worker process, the embedded broker, the real
PostgreSQL, a real model. Delivery is proven by consuming and by reading the database."""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from storage.models import ArticleRow, ArticleSentimentRow, ArticleTopicRow
from streams.topics import topic_names
from testkit.processes import FinsentProcess, consume_all, wait_until
from tests.integration.test_storage_writes import recount, stored_buckets

NOW = datetime.now(UTC).replace(microsecond=0)

MALFORMED: list[tuple[str, bytes | None, bytes | None]] = [
    ("not JSON", None, b"<html>definitely not json</html>"),
    ("JSON of the wrong shape", None, b'["title", "source"]'),
    ("missing title", None, b'{"schema": 1, "source": "wire"}'),
    ("empty title", None, b'{"schema": 1, "source": "wire", "title": "  "}'),
    # 1 MB: as big as Apache Kafka takes by default (message.max.bytes is 1 MiB + 12)
    ("1 MB title", None, json.dumps({"source": "w", "title": "x" * 1_000_000}).encode()),
    ("non-UTF-8", None, b'{"source": "w", "title": "\xff\xfe caf\xe9"}'),
    ("control characters only", None, b'{"source": "w", "title": "\\u0000\\u0007\\u001b"}'),
    ("script only", None, b'{"source": "w", "title": "<script>alert(1)</script>"}'),
    ("year 3000", None, b'{"source": "w", "title": "t", "published_at": "3000-01-01T00:00:00Z"}'),
    ("unparseable date", None, b'{"source": "w", "title": "t", "published_at": "soon"}'),
    ("unknown schema", None, b'{"schema": 99, "source": "w", "title": "t"}'),
    ("key not the id", b"some-other-key", b'{"id": "abc123", "source": "w", "title": "t"}'),
    ("title not text", None, b'{"source": "w", "title": {"nested": true}}'),
    ("bad url", None, b'{"source": "w", "title": "t", "url": "javascript:alert(1)"}'),
    ("null value", b"tombstone", None),
    ("bad id", None, b'{"id": "no spaces allowed", "source": "w", "title": "t"}'),
]


def item_id(n: int) -> str:
    return hashlib.sha256(f"https://news.example/{n}".encode()).hexdigest()


def news(n: int, title: str | None = None) -> bytes:
    headlines = [
        "Oil prices jump as OPEC cuts output",
        "Fed signals rate cut as inflation cools",
        "Bank shares slide on credit fears",
        "Apple beats earnings estimates",
        "Bitcoin tumbles after exchange hack",
    ]
    return json.dumps(
        {
            "schema": 1,
            "id": item_id(n),
            "source": f"outlet-{n % 3}",
            "url": f"https://news.example/{n}",
            "title": title or f"{headlines[n % len(headlines)]} (story {n})",
            "body": None,
            "published_at": (NOW - timedelta(minutes=n % 240)).isoformat(),
            "lang": "en",
        }
    ).encode()


def produce(bootstrap: str, topic: str, records: list[tuple[bytes | None, bytes | None]]) -> None:
    """Publish with kafka-python, acks=all; wait for every acknowledgement."""
    from kafka import KafkaProducer

    producer = KafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=5, max_request_size=2_000_000
    )
    futures = [producer.send(topic, key=k, value=v) for k, v in records]
    producer.flush(timeout=60)
    for f in futures:
        f.get(timeout=60)
    producer.close()


def count(engine: Engine, model: type) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(model)).scalar_one())


def test_every_valid_item_stored_once_every_bad_one_dead_lettered(
    worker: FinsentProcess, worker_env: dict[str, str], db: Engine
) -> None:
    bootstrap = worker_env["FINSENT_KAFKA_BOOTSTRAP_SERVERS"]
    topics = topic_names(worker_env["FINSENT_KAFKA_TOPIC_PREFIX"])
    valid = [(item_id(n).encode(), news(n)) for n in range(1700)]
    replays = valid[:150]  # the same records again (a producer retry, a replay)
    changed = [(item_id(n).encode(), news(n, title=f"Rewritten story {n}")) for n in range(10)]
    bad = [(k, v) for _, k, v in (MALFORMED * 9)[:140]]
    records = valid[:800] + replays + bad[:70] + valid[800:] + changed + bad[70:]
    assert len(records) == 2000
    produce(bootstrap, topics.raw, records)

    wait_until(lambda: count(db, ArticleRow) >= 1700, 300, "1,700 stored articles")
    dead = consume_all(bootstrap, topics.deadletter, expect=150, timeout=120)
    # Give the worker time to (wrongly) store anything extra before counting exactly.
    consume_all(bootstrap, topics.scored, idle=3.0)
    assert count(db, ArticleRow) == 1700
    assert count(db, ArticleSentimentRow) == 1700
    with db.connect() as conn:
        topics_per_article = conn.execute(
            select(ArticleTopicRow.article_id, func.count()).group_by(ArticleTopicRow.article_id)
        ).all()
        titles = dict(conn.execute(select(ArticleRow.id, ArticleRow.title)).all())
    assert len(topics_per_article) == 1700 and all(n >= 1 for _, n in topics_per_article)
    assert titles[item_id(3)] == "Apple beats earnings estimates (story 3)"  # first one wins
    assert stored_buckets(db) == recount(db)

    assert len(dead) == 150
    everything = [json.loads(v or b"{}") for _, v in dead]
    # the ten rewritten stories reuse stored ids: refused at storage, each with its reason
    collisions = [d for d in everything if "already belongs to another article" in d["reason"]]
    assert len(collisions) == 10
    assert all(d["topic"] == topics.scored and "Rewritten story" in d["reason"] for d in collisions)
    letters = [d for d in everything if d not in collisions]
    assert all(d["reason"] and d["topic"] == topics.raw for d in letters)
    assert all(isinstance(d["partition"], int) and isinstance(d["offset"], int) for d in letters)
    reasons = " | ".join(d["reason"] for d in letters)
    for expected in (
        "not JSON",
        "missing title",
        "empty title",
        "not UTF-8",
        "in the future",
        "unknown schema version",
        "does not match id",
        "empty record",
        "not an http(s) URL",
        "record is 1,0",
    ):
        assert expected in reasons
    assert worker.alive, worker.log()[-3000:]


@pytest.mark.broker_kinds("embedded")
def test_chinese_items_are_scored_by_the_model_for_chinese(
    worker_env: dict[str, str], db: Engine, tmp_path: Path, pipeline_model: Path
) -> None:
    """Issue 26, item 2: with FINSENT_MODEL_ZH_PATH set, a real worker sends Chinese
    items (told by their script or their record) to that model and the rest to the
    model; each stored article has its language and names the model that scored it."""
    zh_model = tmp_path / "zh-model"
    shutil.copytree(pipeline_model, zh_model)  # another directory: another model name
    env = {**worker_env, "FINSENT_MODEL_ZH_PATH": str(zh_model)}
    worker = FinsentProcess(["worker"], env, tmp_path / "worker.log").start()
    try:
        worker.wait_for_log("[^Worker]: Ready", timeout=180)
        assert "Chinese items are scored by" in worker.log()
        titles = {
            0: ("Oil prices jump as OPEC cuts output", None),
            1: ("央行宣布降准0.5个百分点", None),
            2: ("貴州茅台一季度淨利潤同比增長15%", None),
            3: ("TSMC raises its outlook", "zh-TW"),
        }
        records = []
        for n, (title, lang) in titles.items():
            record = json.loads(news(n, title=title)) | {"lang": lang}
            records.append((item_id(n).encode(), json.dumps(record).encode()))
        produce(
            env["FINSENT_KAFKA_BOOTSTRAP_SERVERS"],
            topic_names(env["FINSENT_KAFKA_TOPIC_PREFIX"]).raw,
            records,
        )
        wait_until(lambda: count(db, ArticleRow) == 4, 120, "4 stored articles")
        with db.connect() as conn:
            stored = conn.execute(
                select(ArticleRow.title, ArticleRow.lang, ArticleSentimentRow.model_name).join(
                    ArticleSentimentRow, ArticleSentimentRow.article_id == ArticleRow.id
                )
            ).all()
        assert {title: (lang, name) for title, lang, name in stored} == {
            "Oil prices jump as OPEC cuts output": ("en", pipeline_model.name),
            "央行宣布降准0.5个百分点": ("zh", "zh-model"),
            "貴州茅台一季度淨利潤同比增長15%": ("zh", "zh-model"),
            "TSMC raises its outlook": ("zh", "zh-model"),
        }
        assert worker.alive, worker.log()[-3000:]
    finally:
        worker.stop()
