"""Rules and receivers files: the shipped defaults load; every mistake is one clear line."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from alerts.config import load_receivers, load_rules, parse_duration
from core.errors import ConfigFileError
from tests.alerting_support import SECRET


def write(tmp_path: Path, text: str, name: str = "f.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_the_shipped_rules_load_with_their_overrides() -> None:
    rules = load_rules()
    assert rules.names == ["negative_surge", "volume_spike", "polarity_drop"]
    surge = rules.rules[0]
    assert surge.rule.window == timedelta(minutes=30) and surge.rule.hold == timedelta(minutes=5)
    assert surge.rule.exit < surge.rule.enter
    assert surge.rule.inhibits == ("volume_spike", "polarity_drop")
    assert surge.for_topic("market").enabled is False
    assert surge.for_topic("oil-energy").enabled is True
    assert next(s.rule.name for s in rules.ordered()) == "negative_surge"
    assert rules.longest_span == timedelta(hours=6, minutes=30)


def test_per_topic_overrides_merge_over_shared_ones(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
topics:
  crypto: {min_count: 50, severity: info}
rules:
  - {name: s, kind: negative_surge, window: 15m, baseline: 2h, enter: 3, exit: 1,
     min_count: 5, topics: {crypto: {min_count: 80}, oil: {window: 1h}}}
""",
    )
    spec = load_rules(path).rules[0]
    assert spec.for_topic("crypto").min_count == 80 and spec.for_topic("crypto").severity == "info"
    assert spec.for_topic("oil").window == timedelta(hours=1)
    assert spec.for_topic("banks") == spec.rule


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rules: nope", "expected a mapping with a 'rules' list"),
        (
            "rules:\n  - {name: s, kind: spike, window: 1m, baseline: 1h, enter: 1, exit: 1, "
            "min_count: 1}",
            "line 2: rule 's': kind 'spike' is not one of",
        ),
        ("rules:\n  - {name: s, kind: volume_spike, window: 1m}", "is missing baseline, enter"),
        (
            "rules:\n  - {name: s, kind: volume_spike, window: 90s, baseline: 1h, enter: 1, "
            "exit: 1, min_count: 1}",
            "window 90s is not a whole number of 60s buckets",
        ),
        (
            "rules:\n  - {name: s, kind: volume_spike, window: 1m, baseline: 1h, enter: 1, "
            "exit: 2, min_count: 1}",
            "exit threshold 2 is stricter than enter 1",
        ),
        (
            "rules:\n  - {name: s, kind: volume_spike, window: soon, baseline: 1h, enter: 1, "
            "exit: 1, min_count: 1}",
            "window='soon' is not a duration",
        ),
        (
            "rules:\n  - {name: s, kind: volume_spike, window: 1m, baseline: 1h, enter: 1, "
            "exit: 1, min_count: -3}",
            "min_count=-3 is not a whole number",
        ),
        (
            "rules:\n  - {name: s, kind: volume_spike, window: 1m, baseline: 1h, enter: 1, "
            "exit: 1, min_count: 1, inhibits: [ghost]}",
            "inhibits unknown rule(s) ghost",
        ),
        (
            "rules:\n  - {name: s, kind: volume_spike, window: 1m, baseline: 1h, enter: 1, "
            "exit: 1, min_count: 1, colour: red}",
            "unknown key 'colour'",
        ),
        ("rules: [\n", "line"),
    ],
)
def test_a_bad_rules_file_is_one_clear_line(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigFileError) as e:
        load_rules(path)
    assert message in str(e.value) and str(path) in str(e.value)
    assert "\n" not in str(e.value)


def test_durations() -> None:
    assert parse_duration("90s", "x") == timedelta(seconds=90)
    assert parse_duration("1.5h", "x") == timedelta(minutes=90)
    assert parse_duration(120, "x") == timedelta(minutes=2)
    for bad in ("1w", "-5m", True, "5 minutes"):
        with pytest.raises(ValueError, match="x="):
            parse_duration(bad, "x")


def test_receivers_read_secrets_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPS_URL", "https://hooks.example.com/T000/secret-token")
    monkeypatch.setenv("OPS_SECRET", SECRET)
    path = write(
        tmp_path,
        """
receivers:
  - {name: ops, url_env: OPS_URL, secret_env: OPS_SECRET, format: slack, timeout: 3}
  - {name: am, url: "http://127.0.0.1:9093", format: alertmanager-api, send_resolved: false}
""",
    )
    ops, am = load_receivers(path, default_secret=SECRET)
    assert ops.url.endswith("secret-token") and ops.format == "slack" and ops.timeout == 3
    assert "secret-token" not in repr(ops) and "secret-token" not in ops.safe_url
    assert am.secret == SECRET and am.send_resolved is False and am.timeout == 10.0


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("{name: a, url: 'ftp://x', secret: S}", "url must be an http:// or https:// URL"),
        ("{name: a, url: 'http://x'}", "no signing secret"),
        ("{name: a, url: 'http://x', secret: 'whsec_c2hvcnQ='}", "decodes to 5 bytes"),
        ("{name: a, url: 'http://x', secret: S, format: email}", "format 'email' is not one of"),
        ("{name: a, url_env: NOT_SET_ANYWHERE, secret: S}", "NOT_SET_ANYWHERE"),
        ("{name: a, url: 'http://x', secret: S, timeout: 0}", "timeout=0"),
        ("{name: 'a b', url: 'http://x', secret: S}", "receiver name 'a b'"),
    ],
)
def test_a_bad_receiver_is_one_clear_line(tmp_path: Path, body: str, message: str) -> None:
    path = write(tmp_path, "receivers:\n  - " + body.replace("secret: S", f"secret: {SECRET}"))
    with pytest.raises(ConfigFileError) as e:
        load_receivers(path)
    assert message in str(e.value) and "line 2" in str(e.value)
    assert SECRET not in str(e.value)


def test_no_receivers_file_means_no_receivers() -> None:
    assert load_receivers(None) == ()
