"""Against a real Alertmanager (Debian's prometheus-alertmanager on a loopback port):
our alert fires and resolves in its API, and its own webhook to a receiver has the same
shape as our ``alertmanager`` format."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from alerts.config import RuleSet
from alerts.delivery import Deliverer, RetryPolicy
from alerts.evaluator import AlertingConfig, evaluate_once
from streams.broker_process import free_port
from tests.alerting_support import config_for, fast_rules, fire, receiver
from tests.system_programs import program
from tests.webhook_receiver import ScriptedReceiver, until

pytestmark = pytest.mark.needs("prometheus-alertmanager")  # found on PATH


@pytest.fixture
def am_hook() -> Iterator[ScriptedReceiver]:
    """Where Alertmanager itself sends its notifications."""
    with ScriptedReceiver() as hook:
        yield hook


@pytest.fixture
def alertmanager(tmp_path: Path, am_hook: ScriptedReceiver) -> Iterator[str]:
    binary = program("prometheus-alertmanager")
    port = free_port()
    config = tmp_path / "alertmanager.yml"
    config.write_text(
        f"""
route:
  receiver: hook
  group_by: [alertname, topic]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: {am_hook.url}
        send_resolved: true
"""
    )
    log = (tmp_path / "alertmanager.log").open("wb")
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.path={tmp_path / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/-/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, (tmp_path / "alertmanager.log").read_text()
            assert time.monotonic() < deadline, "alertmanager did not get ready"
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


def ours(url: str) -> list[dict[str, Any]]:
    alerts: list[dict[str, Any]] = httpx.get(f"{url}/api/v2/alerts", timeout=5).json()
    return [a for a in alerts if a["labels"].get("service") == "finsent"]


def deliver(db: Engine, config: AlertingConfig) -> int:
    return asyncio.run(Deliverer(db, config, RetryPolicy(base=0.2)).deliver_due())


def test_our_alert_fires_and_resolves_in_alertmanager(
    db: Engine, tmp_path: Path, alertmanager: str, am_hook: ScriptedReceiver
) -> None:
    with ScriptedReceiver() as shaped:  # gets our own `alertmanager` webhook format
        config = config_for(
            fast_rules(tmp_path),
            (
                receiver("am", alertmanager, "alertmanager-api"),
                receiver("amfmt", shaped.url, "alertmanager"),
            ),
        )
        event = fire(db, config)
        assert deliver(db, config) == 2

        (alert,) = ours(alertmanager)
        assert alert["labels"] == {
            "alertname": "negative_surge",
            "topic": "acme",
            "severity": "critical",
            "kind": "negative_surge",
            "service": "finsent",
        }
        assert alert["status"]["state"] == "active"
        assert alert["annotations"]["summary"] == event["summary"]
        assert "news.example/acme" in alert["annotations"]["headlines"]
        assert alert["generatorURL"] == "http://dashboard.example:8501/?topic=acme"
        assert datetime.fromisoformat(alert["endsAt"]) > datetime.now(UTC)

        # Alertmanager routes it to its own webhook receiver: the same shape as ours
        until(lambda: bool(am_hook.ok()), 20, "alertmanager's firing notification")
        theirs = am_hook.requests[0]
        import json

        am_payload = json.loads(theirs.body)
        our_payload = json.loads(shaped.requests[0].body)
        assert am_payload["status"] == "firing"
        assert set(our_payload) == set(am_payload)
        assert set(our_payload["alerts"][0]) == set(am_payload["alerts"][0])
        assert our_payload["alerts"][0]["labels"] == am_payload["alerts"][0]["labels"]
        assert our_payload["groupLabels"] == am_payload["groupLabels"]

        # the rule is switched off for the topic: the alert resolves now, in real time
        spec = config.ruleset.rules[0]
        off = replace(spec, overrides={"acme": {"enabled": False}})
        config = replace(config, ruleset=RuleSet((off,)))
        outcome = evaluate_once(db, config, datetime.now(UTC))
        assert [e["status"] for e in outcome.events] == ["resolved"]
        assert deliver(db, config) == 2

        def resolved_there() -> bool:
            listed = ours(alertmanager)
            return not listed or all(
                datetime.fromisoformat(a["endsAt"]) <= datetime.now(UTC) for a in listed
            )

        until(resolved_there, 20, "the alert resolved in alertmanager's API")
        until(
            lambda: any(json.loads(r.body)["status"] == "resolved" for r in am_hook.ok()),
            20,
            "alertmanager's resolved notification",
        )
        assert json.loads(shaped.requests[1].body)["status"] == "resolved"
