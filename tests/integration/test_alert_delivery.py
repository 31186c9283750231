"""Webhook delivery against a real local HTTP receiver, from the PostgreSQL outbox."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, update
from standardwebhooks import Webhook

from alerts.delivery import Deliverer, RetryPolicy
from alerts.evaluator import AlertingConfig, evaluate_once
from storage.alerts import list_deliveries, requeue_disabled, set_receiver_enabled
from storage.models import WebhookAttemptRow, WebhookDeliveryRow
from testkit.processes import FinsentProcess
from tests.alerting_support import SECRET, config_for, fast_rules, fire, receiver
from tests.webhook_receiver import Reply, ScriptedReceiver, until

FAST = RetryPolicy(base=0.2, max_delay=1.0, jitter=0.5)


def deliver_until(
    engine: Engine, config: AlertingConfig, done: Callable[[], bool], timeout: float = 30
) -> None:
    """Run a deliverer in this process until ``done()`` or the timeout."""

    async def run() -> None:
        deliverer = Deliverer(engine, config, FAST, poll=0.1)
        stop = asyncio.Event()
        task = asyncio.create_task(deliverer.run(stop))
        deadline = time.monotonic() + timeout
        try:
            while not await asyncio.to_thread(done):
                assert time.monotonic() < deadline, "delivery did not finish in time"
                await asyncio.sleep(0.1)
        finally:
            stop.set()
            await task

    asyncio.run(run())


def rows(engine: Engine) -> list[WebhookDeliveryRow]:
    from sqlalchemy.orm import Session

    with Session(engine) as s:
        return list(s.scalars(select(WebhookDeliveryRow).order_by(WebhookDeliveryRow.id)))


def attempts(engine: Engine) -> list[tuple[int, int | None, str]]:
    with engine.connect() as conn:
        return [
            (r.attempt, r.status_code, r.outcome)
            for r in conn.execute(
                select(WebhookAttemptRow).order_by(
                    WebhookAttemptRow.delivery_id, WebhookAttemptRow.attempt
                )
            )
        ]


def status_of(engine: Engine, receiver_name: str) -> str:
    return next(d.status for d in list_deliveries(engine) if d.receiver == receiver_name)


def test_three_500s_then_200_deliver_once_with_one_id_and_valid_signatures(
    db: Engine, tmp_path: Path
) -> None:
    with ScriptedReceiver([Reply(500), Reply(500), Reply(500)]) as hook:
        config = config_for(fast_rules(tmp_path), (receiver("ops", hook.url),))
        event = fire(db, config)
        deliver_until(db, config, lambda: status_of(db, "ops") == "delivered")
        time.sleep(0.5)  # nothing more arrives after the delivery
        got = hook.requests
    assert [r.status for r in got] == [500, 500, 500, 200]
    assert {r.headers["webhook-id"] for r in got} == {event["id"]}
    for r in got:
        payload = Webhook(SECRET).verify(r.body, r.headers)
        assert payload["type"] == "alert.firing" and payload["data"]["id"] == event["id"]
        assert payload["data"]["topic"] == "acme" and payload["data"]["headlines"]
    # back-off doubles from 0.2 s; jitter takes up to half of each pause off
    gaps = [b.at - a.at for a, b in itertools.pairwise(got)]
    assert all(gap >= 0.1 * 2**i - 0.01 for i, gap in enumerate(gaps)), gaps
    (row,) = rows(db)
    assert (row.status, row.attempts, row.last_status) == ("delivered", 4, 200)
    assert attempts(db) == [
        (1, 500, "retry"),
        (2, 500, "retry"),
        (3, 500, "retry"),
        (4, 200, "delivered"),
    ]


def test_a_resolved_event_never_overtakes_its_firing(db: Engine, tmp_path: Path) -> None:
    """Both events of one alert queued at once (a replay caught up in one round): the
    firing one is refused once and retried; the resolved one waits for it."""
    with ScriptedReceiver([Reply(500, delay=0.3)]) as hook:
        config = config_for(fast_rules(tmp_path), (receiver("ops", hook.url),))
        now = datetime.now(UTC)
        firing = fire(db, config, now - timedelta(minutes=15))
        later = evaluate_once(db, config, now)
        (resolved,) = [e for e in later.events if e["status"] == "resolved"]
        deliver_until(db, config, lambda: all(r.status == "delivered" for r in rows(db)))
        got = hook.requests
    assert [(r.headers["webhook-id"], r.status) for r in got] == [
        (firing["id"], 500),
        (firing["id"], 200),
        (resolved["id"], 200),
    ]


def test_a_400_is_a_permanent_failure(db: Engine, tmp_path: Path) -> None:
    with ScriptedReceiver(default=Reply(400)) as hook:
        config = config_for(fast_rules(tmp_path), (receiver("ops", hook.url),))
        fire(db, config)
        deliver_until(db, config, lambda: status_of(db, "ops") == "failed")
        time.sleep(1.5)  # several back-off periods: nothing is retried
        assert len(hook.requests) == 1
    (row,) = rows(db)
    assert (row.status, row.attempts, row.last_status) == ("failed", 1, 400)
    assert "HTTP 400" in (row.last_error or "")
    assert attempts(db) == [(1, 400, "failed")]


def test_retry_after_is_honoured(db: Engine, tmp_path: Path) -> None:
    with ScriptedReceiver([Reply(429, {"Retry-After": "2"})]) as hook:
        config = config_for(fast_rules(tmp_path), (receiver("ops", hook.url),))
        fire(db, config)
        deliver_until(db, config, lambda: status_of(db, "ops") == "delivered")
        first, second = hook.requests
    assert second.at - first.at >= 1.9
    assert attempts(db) == [(1, 429, "retry"), (2, 200, "delivered")]


def test_410_disables_the_receiver_until_it_is_enabled(db: Engine, tmp_path: Path) -> None:
    from alerts.evaluator import evaluate_once
    from storage.alerts import disabled_receivers

    with ScriptedReceiver([Reply(410)]) as gone, ScriptedReceiver() as fine:
        config = config_for(
            fast_rules(tmp_path), (receiver("gone", gone.url), receiver("fine", fine.url))
        )
        fire(db, config)
        deliver_until(
            db,
            config,
            lambda: status_of(db, "gone") == "disabled" and status_of(db, "fine") == "delivered",
        )
        assert "gone" in disabled_receivers(db)
        # the next event is not even tried on the disabled receiver
        later = datetime.now(UTC) + timedelta(minutes=6)
        outcome = evaluate_once(db, config, later)
        assert [e["status"] for e in outcome.events] == ["resolved"]
        with db.begin() as conn:  # that round ran six minutes ahead of the clock
            conn.execute(
                update(WebhookDeliveryRow)
                .where(WebhookDeliveryRow.status == "pending")
                .values(next_attempt_at=datetime.now(UTC))
            )
        deliver_until(
            db, config, lambda: sum(d.status == "delivered" for d in list_deliveries(db)) == 2
        )
        assert len(gone.requests) == 1 and len(fine.requests) == 2
        statuses = sorted((d.receiver, d.status) for d in list_deliveries(db))
        assert statuses == [
            ("fine", "delivered"),
            ("fine", "delivered"),
            ("gone", "disabled"),
            ("gone", "disabled"),
        ]
        assert set_receiver_enabled(db, "gone", datetime.now(UTC))
        assert "gone" not in disabled_receivers(db)
        # what it missed goes out once asked for, with the webhook ids it would have had
        now = datetime.now(UTC)
        assert requeue_disabled(db, "gone", now, now + timedelta(hours=1)) == 2
        assert requeue_disabled(db, "gone", now, now + timedelta(hours=1)) == 0
        deliver_until(db, config, lambda: all(d.status == "delivered" for d in list_deliveries(db)))
        assert len(gone.requests) == 3
        assert {r.headers["webhook-id"] for r in gone.requests[1:]} == {
            d.event_id for d in list_deliveries(db) if d.receiver == "gone"
        }


def test_a_slow_receiver_holds_up_neither_the_event_loop_nor_other_receivers(
    db: Engine, tmp_path: Path
) -> None:
    with ScriptedReceiver(default=Reply(200, delay=4.0)) as slow, ScriptedReceiver() as fast:
        config = config_for(
            fast_rules(tmp_path),
            (receiver("slow", slow.url, timeout=10), receiver("fast", fast.url)),
        )
        fire(db, config)
        lags: list[float] = []

        async def run() -> float:
            deliverer = Deliverer(db, config, FAST, poll=0.1)
            stop = asyncio.Event()
            task = asyncio.create_task(deliverer.run(stop))
            start = time.monotonic()
            fast_done = None
            while time.monotonic() - start < 3.0:  # the slow request is in flight meanwhile
                tick = time.monotonic()
                await asyncio.sleep(0.05)
                lags.append(time.monotonic() - tick - 0.05)
                if fast_done is None and fast.requests:
                    fast_done = time.monotonic() - start
            stop.set()
            await task
            assert fast_done is not None
            return fast_done

        fast_after = asyncio.run(run())
    assert fast_after < 1.5  # not after the slow receiver's 4 s
    # the loop (Faust's, in the worker) stays free: a blocking send would lag it ~4 s;
    # a loaded 2-core CI machine lags it a few hundred ms now and then
    assert max(lags) < 1.0, max(lags)


def test_a_receiver_down_for_a_while_gets_it_after_a_deliverer_restart(
    db: Engine, tmp_path: Path, cli_env: dict[str, str], pg_url: str
) -> None:
    hook = ScriptedReceiver()  # its port is chosen but not yet open: refused
    receivers = tmp_path / "receivers.yaml"
    receivers.write_text(
        f"receivers:\n  - name: ops\n    url: {hook.url}\n    secret_env: HOOK_SECRET\n"
    )
    config = config_for(fast_rules(tmp_path), (receiver("ops", hook.url),))
    event = fire(db, config)
    env = {
        **cli_env,
        "HOOK_SECRET": SECRET,
        "FINSENT_DATABASE_URL": pg_url,
        "FINSENT_ALERTS_RECEIVERS": str(receivers),
        "FINSENT_ALERTS_RETRY_BASE": "0.3",
        "FINSENT_ALERTS_RETRY_MAX_DELAY": "1",
        "FINSENT_ALERTS_DELIVERY_POLL": "0.2",
    }
    first = FinsentProcess(["alerts", "deliver"], env, tmp_path / "d1.log").start()
    try:
        until(lambda: len(attempts(db)) >= 3, 30, "three refused attempts")
        first.kill()  # kill -9 while retrying
        assert status_of(db, "ops") == "pending"
        assert all(outcome == "retry" and code is None for _, code, outcome in attempts(db))
        hook.start()
        second = FinsentProcess(["alerts", "deliver"], env, tmp_path / "d2.log").start()
        try:
            until(lambda: status_of(db, "ops") == "delivered", 60, "delivery after restart")
        finally:
            second.stop()
        assert [r.headers["webhook-id"] for r in hook.requests] == [event["id"]]
        Webhook(SECRET).verify(hook.requests[0].body, hook.requests[0].headers)
        assert json.loads(hook.requests[0].body)["data"]["status"] == "firing"
    finally:
        first.kill()
        hook.stop()
    assert attempts(db)[-1][1:] == (200, "delivered")


@pytest.mark.parametrize("fmt", ["alertmanager", "slack"])
def test_other_formats_are_signed_too(db: Engine, tmp_path: Path, fmt: str) -> None:
    with ScriptedReceiver() as hook:
        config = config_for(fast_rules(tmp_path), (receiver("r", hook.url, fmt),))
        event = fire(db, config)
        deliver_until(db, config, lambda: status_of(db, "r") == "delivered")
        (got,) = hook.requests
    body = Webhook(SECRET).verify(got.body, got.headers)
    if fmt == "alertmanager":
        assert body["version"] == "4" and body["status"] == "firing"
        (alert,) = body["alerts"]
        assert alert["labels"]["alertname"] == "negative_surge"
        assert alert["labels"]["topic"] == "acme"
        assert alert["startsAt"] == event["starts_at"]
    else:
        assert body["text"].startswith(":rotating_light: Negative news surge on acme")
        assert any("news.example/acme" in b["text"]["text"] for b in body["blocks"][2:])


def test_two_deliverers_share_the_outbox_and_send_each_event_once(
    db: Engine, tmp_path: Path
) -> None:
    from alerts.evaluator import evaluate_once
    from tests.alerting_support import plant_surge

    now = datetime.now(UTC)
    for n in range(12):
        plant_surge(db, now, topic=f"topic-{n}")
    with ScriptedReceiver(default=Reply(200, delay=0.3)) as hook:
        config = config_for(fast_rules(tmp_path), (receiver("ops", hook.url),))
        events = evaluate_once(db, config, now).events
        assert len(events) == 12

        async def run() -> None:
            stop = asyncio.Event()
            pair = [
                Deliverer(db, config, FAST, poll=0.05, concurrency=3, worker=f"deliverer-{i}")
                for i in (1, 2)
            ]
            tasks = [asyncio.create_task(d.run(stop)) for d in pair]
            deadline = time.monotonic() + 30
            while sum(d.status == "delivered" for d in list_deliveries(db)) < 12:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.1)
            await asyncio.sleep(0.5)
            stop.set()
            await asyncio.gather(*tasks)

        asyncio.run(run())
        ids = sorted(r.headers["webhook-id"] for r in hook.requests)
    assert ids == sorted(e["id"] for e in events)  # each once, none twice
    with db.connect() as conn:
        workers = set(conn.execute(select(WebhookAttemptRow.worker)).scalars())
    assert workers == {"deliverer-1", "deliverer-2"}


def test_a_recovered_receiver_gets_its_queue_within_seconds(db: Engine, tmp_path: Path) -> None:
    """A receiver answers 503 while events of two alerts queue with back-offs of 5 to 10
    minutes. Probes (one a second here) try the earliest queued event ahead of schedule;
    once one gets through, the rest go out at once: in order per alert, each once."""
    from tests.alerting_support import plant_surge

    slow = RetryPolicy(base=600, max_delay=600, jitter=0.5, probe=1.0)
    with ScriptedReceiver(default=Reply(503)) as hook:
        config = config_for(fast_rules(tmp_path), (receiver("ops", hook.url),))
        now = datetime.now(UTC)
        firing = fire(db, config, now - timedelta(minutes=15))
        plant_surge(db, now, topic="beta")
        later = {e["status"]: e for e in evaluate_once(db, config, now).events}
        assert set(later) == {"resolved", "firing"}
        resolved, other = later["resolved"], later["firing"]
        down = 3.0

        async def run() -> float:
            deliverer = Deliverer(db, config, slow, poll=0.1)
            stop = asyncio.Event()
            task = asyncio.create_task(deliverer.run(stop))
            try:
                await asyncio.sleep(down)  # the two firing events refused, then probes
                assert all(r.status == "pending" for r in await asyncio.to_thread(rows, db))
                hook.default = Reply(200)
                recovered = time.monotonic()
                while not all(r.status == "delivered" for r in await asyncio.to_thread(rows, db)):
                    assert time.monotonic() - recovered < 30, "the queue did not drain"
                    await asyncio.sleep(0.05)
                return time.monotonic() - recovered
            finally:
                stop.set()
                await task

        drained = asyncio.run(run())
        time.sleep(0.3)  # nothing more arrives
        got = hook.requests
    assert drained < 4, drained
    refused = [r for r in got if r.status == 503]
    ok = [r.headers["webhook-id"] for r in got if r.status == 200]
    # the first tries of both firing events, then at most one probe a second, each on
    # the earliest queued event (the resolved one waits for its firing)
    assert sorted(r.headers["webhook-id"] for r in refused[:2]) == sorted(
        [firing["id"], other["id"]]
    )
    assert 1 <= len(refused) - 2 <= down / slow.probe + 1, len(refused)
    assert {r.headers["webhook-id"] for r in refused[2:]} == {firing["id"]}
    assert sorted(ok) == sorted([firing["id"], resolved["id"], other["id"]])  # each once
    assert ok.index(firing["id"]) < ok.index(resolved["id"])
    for r in got:
        Webhook(SECRET).verify(r.body, r.headers)
    assert len(attempts(db)) == len(got)  # every try, probe or not, is recorded


def test_probes_never_take_a_leased_row_a_disabled_receiver_or_one_tried_lately(
    db: Engine, tmp_path: Path
) -> None:
    from storage.alerts import AttemptResult, claim_probe, hurry_pending, record_attempt
    from storage.models import WebhookReceiverRow

    config = config_for(fast_rules(tmp_path), (receiver("ops", "http://127.0.0.1:9/hook"),))
    fire(db, config)
    now = datetime.now(UTC)
    lease = now + timedelta(seconds=40)
    quiet = now - timedelta(seconds=15)

    def due_at(when: datetime) -> None:
        with db.begin() as conn:
            conn.execute(update(WebhookDeliveryRow).values(next_attempt_at=when))

    assert claim_probe(db, "ops", lease, quiet) is None  # due now: claim_due's, or leased
    due_at(now + timedelta(minutes=10))
    job = claim_probe(db, "ops", lease, quiet)
    assert job is not None and rows(db)[0].next_attempt_at == lease
    assert claim_probe(db, "ops", lease, quiet) is None  # leased: being sent
    result = AttemptResult("retry", now, 1.0, 503, "HTTP 503", now + timedelta(minutes=10))
    record_attempt(db, job, result)
    assert claim_probe(db, "ops", lease, quiet) is None  # tried lately
    assert claim_probe(db, "ops", lease, now) is not None
    due_at(now + timedelta(minutes=10))
    with db.begin() as conn:
        conn.execute(
            WebhookReceiverRow.__table__.insert().values(
                name="ops", disabled_at=now, disabled_reason="410", updated_at=now
            )
        )
    assert claim_probe(db, "ops", lease, now) is None  # disabled
    # a success brings the queue forward, but not a row that may be leased
    assert hurry_pending(db, "ops", now, lease) == 1
    assert rows(db)[0].next_attempt_at == now
    due_at(lease)
    assert hurry_pending(db, "ops", now, lease) == 0
