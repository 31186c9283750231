"""Known data for the dashboard tests: every number a page shows can be worked out here.

Relative to ``now``: in the last hour 4 first reports (3 negative about oil, one
positive about banks) and 1 syndicated copy; in the 24 hours before, 7 first reports
(4 positive about banks, 2 neutral, 1 negative about oil). So the last hour has mean
polarity -0.375 and a 75 % negative share; the previous 24 h +0.321 and 14.3 %.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, insert

from storage.articles import save_scored_batch
from storage.models import AlertRow, SourceHealthRow, WebhookDeliveryRow, WorkerCountersRow
from testkit.factories import article

SCRIPT_TITLE = "<script>document.title='pwned'</script> Oil slump hits refiners"
OIL_ALERT = "alert-oil-1"
BANKS_ALERT = "alert-banks-1"


def seed(engine: Engine, now: datetime) -> None:
    last_hour = [
        article(
            1,
            label="negative",
            published_at=now - timedelta(minutes=10),
            topics=("oil", "market"),
            source="wire-a",
            title="Oil prices plunge on glut",
        ),
        article(
            2,
            label="negative",
            published_at=now - timedelta(minutes=20),
            topics=("oil", "market"),
            source="wire-b",
            title="Refiners warn of losses",
        ),
        article(
            3,
            label="negative",
            published_at=now - timedelta(minutes=30),
            topics=("oil", "market"),
            source="wire-a",
            title=SCRIPT_TITLE,
        ),
        article(
            4,
            label="positive",
            published_at=now - timedelta(minutes=40),
            topics=("banks", "market"),
            source="wire-c",
            title="Banks beat estimates",
        ),
    ]
    copy = article(
        5,
        label="negative",
        published_at=now - timedelta(minutes=8),
        topics=("oil", "market"),
        source="syndicate-x",
        title="Oil prices plunge on glut",
        duplicate_of=last_hour[0].id,
    )
    earlier = (
        [
            article(
                10 + i,
                label="positive",
                published_at=now - timedelta(hours=3 + i),
                topics=("banks", "market"),
                source="wire-c",
                title=f"Bank rally day {i}",
            )
            for i in range(4)
        ]
        + [
            article(
                20 + i,
                label="neutral",
                published_at=now - timedelta(hours=8 + i),
                topics=("market",),
                source="wire-b",
                title=f"Markets flat session {i}",
            )
            for i in range(2)
        ]
        + [
            article(
                30,
                label="negative",
                published_at=now - timedelta(hours=20),
                topics=("oil", "market"),
                source="wire-a",
                title="OPEC output row",
            )
        ]
    )
    save_scored_batch(engine, [*last_hour, copy, *earlier])
    with engine.begin() as conn:
        conn.execute(
            insert(AlertRow),
            [
                {
                    "id": OIL_ALERT,
                    "fingerprint": "negative-surge:oil",
                    "rule": "negative-surge",
                    "topic": "oil",
                    "severity": "critical",
                    "status": "firing",
                    "starts_at": now - timedelta(minutes=25),
                    "ends_at": None,
                    "updated_at": now - timedelta(minutes=1),
                    "value": 0.75,
                    "baseline": 0.14,
                    "threshold": 0.5,
                    "details": {
                        "firing": {
                            "summary": "oil: negative share 75% against 14% baseline",
                            "window": {"seconds": 900},
                            "headlines": [
                                {
                                    "title": "Oil prices plunge on glut",
                                    "url": "https://news.example/1",
                                    "source": "wire-a",
                                    "published_at": (now - timedelta(minutes=10)).isoformat(),
                                    "label": "negative",
                                    "polarity": -0.75,
                                }
                            ],
                        }
                    },
                },
                {
                    "id": BANKS_ALERT,
                    "fingerprint": "negative-surge:banks",
                    "rule": "negative-surge",
                    "topic": "banks",
                    "severity": "warning",
                    "status": "resolved",
                    "starts_at": now - timedelta(days=2),
                    "ends_at": now - timedelta(days=2) + timedelta(minutes=45),
                    "updated_at": now - timedelta(days=2) + timedelta(minutes=45),
                    "value": 0.6,
                    "baseline": 0.2,
                    "threshold": 0.5,
                    "details": {},
                },
            ],
        )
        conn.execute(
            insert(WebhookDeliveryRow),
            [
                {
                    "event_id": "event-oil-firing",
                    "receiver": "ops-hook",
                    "payload": {"alert_id": OIL_ALERT},
                    "status": "delivered",
                    "attempts": 1,
                    "last_status": 200,
                    "last_error": None,
                    "created_at": now - timedelta(minutes=24),
                    "delivered_at": now - timedelta(minutes=24),
                },
                {
                    "event_id": "event-oil-firing",
                    "receiver": "chat",
                    "payload": {"alert_id": OIL_ALERT},
                    "status": "failed",
                    "attempts": 5,
                    "last_status": 500,
                    "last_error": "HTTP 500 from chat.example",
                    "created_at": now - timedelta(minutes=24),
                    "delivered_at": None,
                },
            ],
        )
        conn.execute(
            insert(SourceHealthRow),
            [
                {
                    "feed": "markets-rss",
                    "url": "https://feeds.example/markets.xml",
                    "last_fetch_at": now - timedelta(minutes=2),
                    "last_success_at": now - timedelta(minutes=2),
                    "last_status": 200,
                    "last_error": None,
                    "items_seen": 120,
                    "items_new": 30,
                    "items_duplicate": 5,
                    "consecutive_failures": 0,
                },
                {
                    "feed": "broken-feed",
                    "url": "javascript:alert(1)",
                    "last_fetch_at": now - timedelta(minutes=1),
                    "last_success_at": None,
                    "last_error": "HTTP 404 Not Found",
                    "last_status": 404,
                    "items_seen": 0,
                    "items_new": 0,
                    "items_duplicate": 0,
                    "consecutive_failures": 3,
                },
            ],
        )
        conn.execute(
            insert(WorkerCountersRow),
            [
                {
                    "worker": "host-1:4242",
                    "agent": agent,
                    "started_at": now - timedelta(hours=1),
                    "updated_at": now - timedelta(seconds=3),
                    "processed": processed,
                    "dead_lettered": dead,
                    "retried": 1,
                    "batches": 10,
                    "lag": lag,
                }
                for agent, processed, dead, lag in (
                    ("classify", 1000, 2, 40),
                    ("persist", 998, 0, 2),
                )
            ],
        )


def model_dir(root: Path) -> Path:
    """A model directory with a card's metrics.json, as `finsent train` writes it."""
    out = root / "finsent-sentiment"
    out.mkdir(parents=True, exist_ok=True)
    metrics = {
        "accuracy": 0.8661,
        "macro_f1": 0.8312,
        "best_epoch": 2,
        "base_model": "all-MiniLM-L6-v2",
        "per_class": {
            name: {"precision": 0.8, "recall": 0.8, "f1": f1, "support": 100}
            for name, f1 in (("negative", 0.78), ("neutral", 0.9), ("positive", 0.81))
        },
        "hardware": {"device": "cpu"},
        "checks": {"news_eval": {"rows": 614, "accuracy": 0.8795, "macro_f1": 0.8773}},
        "calibration": {"served": 1.87, "transformer_alone": 0.99},
    }
    (out / "metrics.json").write_text(json.dumps(metrics))
    return out
