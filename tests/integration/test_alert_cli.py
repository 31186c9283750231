"""`finsent alerts ...` and `finsent webhook-echo` as a user runs them."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine
from standardwebhooks import Webhook

from alerts.delivery import Deliverer, RetryPolicy, signed_headers
from storage.alerts import list_deliveries
from streams.broker_process import free_port
from testkit.processes import FINSENT, FinsentProcess
from tests.alerting_support import FAST_RULES, SECRET, config_for, fast_rules, fire, receiver
from tests.webhook_receiver import Reply, ScriptedReceiver


def finsent(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [FINSENT, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture
def echo(tmp_path: Path, cli_env: dict[str, str]) -> Iterator[tuple[FinsentProcess, str]]:
    port = free_port()
    proc = FinsentProcess(
        ["webhook-echo", "--secret", SECRET, "--port", str(port)], cli_env, tmp_path / "echo.log"
    ).start()
    proc.wait_for_log("webhook-echo listening", timeout=30)
    yield proc, f"http://127.0.0.1:{port}/"
    proc.stop()


def receivers_file(tmp_path: Path, entries: dict[str, tuple[str, str]]) -> Path:
    path = tmp_path / "receivers.yaml"
    lines = ["receivers:"]
    for name, (url, fmt) in entries.items():
        lines.append(f"  - {{name: {name}, url: '{url}', format: {fmt}}}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_webhook_echo_prints_verified_events_and_refuses_forgeries(
    echo: tuple[FinsentProcess, str],
) -> None:
    proc, url = echo
    body = b'{"type":"alert.firing","timestamp":"2026-03-02T12:00:00Z","data":{"id":"evt_9"}}'
    headers = signed_headers(receiver("x", url), "evt_9", body, datetime.now(UTC))
    assert httpx.post(url, content=body, headers=headers).status_code == 204
    forged = {**headers, "webhook-signature": "v1,AAAA"}
    assert httpx.post(url, content=body, headers=forged).status_code == 401
    assert (
        httpx.post(url, content=body, headers={**headers, "webhook-signature": "v1"}).status_code
        == 401
    )
    assert httpx.post(url, content=body).status_code == 401
    proc.stop()
    lines = [json.loads(ln) for ln in proc.log().splitlines() if ln.startswith("{")]
    assert lines == [{"webhook_id": "evt_9", "event": json.loads(body)}]
    assert proc.log().count("401 ") == 3


def test_webhook_echo_refuses_a_bad_secret(cli_env: dict[str, str]) -> None:
    done = finsent(cli_env, "webhook-echo", "--secret", "not base64!", "--port", "0")
    assert done.returncode == 2
    assert done.stderr.strip().startswith("error: --secret:")
    assert len(done.stderr.strip().splitlines()) == 1


def test_alerts_test_reaches_a_receiver_or_says_why_not(
    tmp_path: Path, cli_env: dict[str, str], echo: tuple[FinsentProcess, str]
) -> None:
    proc, url = echo
    with ScriptedReceiver(default=Reply(500)) as broken:
        env = {
            **cli_env,
            "FINSENT_ALERTS_SECRET": SECRET,
            "FINSENT_ALERTS_RECEIVERS": str(
                receivers_file(
                    tmp_path, {"echo": (url, "generic"), "broken": (broken.url, "slack")}
                )
            ),
        }
        ok = finsent(env, "alerts", "test", "echo", "--topic", "oil-energy")
        assert ok.returncode == 0, ok.stderr
        assert "echo (generic) answered 204" in ok.stdout
        bad = finsent(env, "alerts", "test", "broken")
        assert bad.returncode == 1
        assert "HTTP 500" in bad.stderr and "/hook" not in bad.stderr  # the URL path is secret
        missing = finsent(env, "alerts", "test", "nobody")
        assert missing.returncode == 2 and "no receiver 'nobody'" in missing.stderr
    proc.wait_for_log('"alert.test"', timeout=10)
    assert "oil-energy" in proc.log()


def test_replay_resends_an_event_with_the_same_webhook_id(
    db: Engine, tmp_path: Path, cli_env: dict[str, str], pg_url: str
) -> None:
    with ScriptedReceiver() as hook:
        config = config_for(fast_rules(tmp_path), (receiver("ops", hook.url),))
        event = fire(db, config)

        def deliver() -> int:
            return asyncio.run(Deliverer(db, config, RetryPolicy()).deliver_due())

        assert deliver() == 1
        env = {
            **cli_env,
            "FINSENT_DATABASE_URL": pg_url,
            "FINSENT_ALERTS_SECRET": SECRET,
            "FINSENT_ALERTS_RECEIVERS": str(
                receivers_file(tmp_path, {"ops": (hook.url, "generic")})
            ),
        }
        listed = finsent(env, "alerts", "list")
        assert listed.returncode == 0, listed.stderr
        assert "firing   critical negative_surge/acme" in listed.stdout
        assert f"{event['id']} -> ops" in listed.stdout and "delivered" in listed.stdout
        assert "receiver ops (generic, http://127.0.0.1" in listed.stdout
        assert "/hook" not in listed.stdout

        done = finsent(env, "alerts", "replay", str(event["id"]))
        assert done.returncode == 0, done.stderr
        assert "1 deliveries pending" in done.stdout
        assert [d.status for d in list_deliveries(db)] == ["pending"]
        assert deliver() == 1
        assert [r.headers["webhook-id"] for r in hook.requests] == [event["id"]] * 2
        for r in hook.requests:
            Webhook(SECRET).verify(r.body, r.headers)

        unknown = finsent(env, "alerts", "replay", "evt_nope")
        assert unknown.returncode == 1 and "no event 'evt_nope'" in unknown.stderr


def test_enable_requeue_sends_what_a_gone_receiver_missed(
    db: Engine, tmp_path: Path, cli_env: dict[str, str], pg_url: str
) -> None:
    with ScriptedReceiver([Reply(410)]) as hook:
        config = config_for(fast_rules(tmp_path), (receiver("ops", hook.url),))
        event = fire(db, config)

        def deliver() -> int:
            return asyncio.run(Deliverer(db, config, RetryPolicy()).deliver_due())

        assert deliver() == 1
        assert [d.status for d in list_deliveries(db)] == ["disabled"]
        env = {**cli_env, "FINSENT_DATABASE_URL": pg_url, "FINSENT_ALERTS_SECRET": SECRET}
        done = finsent(env, "alerts", "enable", "ops", "--requeue")
        assert done.returncode == 0, done.stderr
        assert "ops enabled" in done.stdout and "1 deliveries to ops queued again" in done.stdout
        assert deliver() == 1
        assert [d.status for d in list_deliveries(db)] == ["delivered"]
        assert [r.headers["webhook-id"] for r in hook.requests] == [event["id"]] * 2

        again = finsent(env, "alerts", "enable", "ops")
        assert again.returncode == 0 and "ops was not disabled" in again.stdout


def test_evaluate_runs_one_round_at_a_given_time(
    db: Engine, tmp_path: Path, cli_env: dict[str, str], pg_url: str
) -> None:
    from tests.alerting_support import plant_surge

    now = datetime.now(UTC)
    plant_surge(db, now)
    rules = tmp_path / "rules.yaml"
    rules.write_text(FAST_RULES)
    env = {**cli_env, "FINSENT_DATABASE_URL": pg_url, "FINSENT_ALERTS_SETTLE": "0"}
    at = (now + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S+0000")
    done = finsent(env, "alerts", "evaluate", "--rules", str(rules), "--at", at)
    assert done.returncode == 0, done.stderr
    events = [json.loads(ln) for ln in done.stdout.splitlines() if ln.startswith("{")]
    assert [(e["status"], e["topic"]) for e in events] == [("firing", "acme")]
    again = finsent(env, "alerts", "evaluate", "--rules", str(rules), "--at", at)
    assert "0 events" in again.stdout  # already firing: no second event


def test_a_bad_rules_file_stops_the_worker_before_the_model_loads(
    tmp_path: Path, cli_env: dict[str, str], pg_url: str
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n  - {name: s, kind: negative_surge, window: 1m}\n")
    env = {
        **cli_env,
        "FINSENT_DATABASE_URL": pg_url,
        "FINSENT_ALERTS_RULES": str(rules),
        "FINSENT_MODEL_PATH": str(tmp_path / "no-model-here"),
        "FINSENT_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",
    }
    done = finsent(env, "worker")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        f"error: {rules} line 2: rule 's' is missing baseline, enter, exit, min_count"
    )
