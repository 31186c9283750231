"""The rules and receivers YAML files: parsed, checked, turned into plain values.

Every mistake is one ``ConfigFileError`` naming the file, the line and the bad value.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal, cast, get_args
from urllib.parse import urlsplit

from alerts.rules import KINDS, Kind, Rule
from core.errors import ConfigFileError
from core.yamlfile import LINE_KEY, load_yaml, where
from entities.registry import ID_RE, Registry
from storage.buckets import entity_key, key_entity

DEFAULT_RULES = Path(__file__).resolve().parent / "data" / "rules.yaml"

#: Width of the buckets the rules read; windows are whole multiples of it.
BUCKET_S = 60

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,59}$")
DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$")
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}

Format = Literal["generic", "alertmanager", "slack", "alertmanager-api"]
FORMATS: tuple[str, ...] = get_args(Format)
SEVERITIES = ("info", "warning", "critical")

#: Keys a rule (or a per-topic override) may set, and how each is read.
RULE_FIELDS = {
    "window": "duration",
    "baseline": "duration",
    "for": "duration",
    "cooldown": "duration",
    "enter": "number",
    "exit": "number",
    "min_count": "count",
    "min_share": "share",
    "min_baseline_count": "count",
    "min_baseline_coverage": "share",
    "severity": "severity",
    "enabled": "bool",
    "inhibits": "names",
}
#: The Rule attribute each key sets.
ATTRIBUTE = {"for": "hold"}


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """A rule as written, with its per-topic overrides and its targets: the topics (no
    ``entities``), or the companies it names (registry ids), whose series are keyed
    ``entity:<id>`` (per-company overrides go under that key in ``topics``)."""

    rule: Rule
    overrides: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    entities: tuple[str, ...] = ()

    def targets(self, key: str) -> bool:
        """Whether the rule evaluates the series ``key`` (a topic or ``entity:<id>``)."""
        entity = key_entity(key)
        return entity is None if not self.entities else entity in self.entities

    def for_topic(self, topic: str) -> Rule:
        changes = self.overrides.get(topic)
        return replace(self.rule, **changes) if changes else self.rule


@dataclass(frozen=True, slots=True)
class RuleSet:
    rules: tuple[RuleSpec, ...]
    source: str = ""

    @property
    def names(self) -> list[str]:
        return [spec.rule.name for spec in self.rules]

    def ordered(self) -> list[RuleSpec]:
        """Inhibiting rules before the rules they inhibit (so both see this round's state)."""
        inhibited = {n for spec in self.rules for n in spec.rule.inhibits}
        return sorted(self.rules, key=lambda spec: spec.rule.name in inhibited)

    @property
    def entity_keys(self) -> frozenset[str]:
        """The series keys (``entity:<id>``) of every company some rule names: the only
        companies' buckets a round needs to read."""
        return frozenset(entity_key(e) for spec in self.rules for e in spec.entities)

    @property
    def longest_span(self) -> timedelta:
        """Window plus baseline of the most far-reaching rule, overrides included."""
        spans = [spec.rule.window + spec.rule.baseline for spec in self.rules]
        for spec in self.rules:
            for topic in spec.overrides:
                r = spec.for_topic(topic)
                spans.append(r.window + r.baseline)
        return max(spans, default=timedelta(0))


@dataclass(frozen=True, slots=True)
class Receiver:
    """Where alert events go. ``url`` and ``secret`` are secrets: never print them."""

    name: str
    url: str = field(repr=False)
    format: Format
    secret: str = field(repr=False)
    timeout: float = 10.0
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    send_resolved: bool = True

    @property
    def safe_url(self) -> str:
        """Scheme, host and port only: paths and queries often carry tokens."""
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}/…"


# --- rules ---------------------------------------------------------------------------


def parse_duration(value: Any, what: str) -> timedelta:
    """``90`` (seconds), ``"90s"``, ``"30m"``, ``"24h"``, ``"1d"``."""
    if isinstance(value, bool):
        raise ValueError(f"{what}={value!r} is not a duration (like 30m, 24h, 90s)")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = DURATION_RE.match(str(value))
        if not match:
            raise ValueError(f"{what}={value!r} is not a duration (like 30m, 24h, 90s)")
        seconds = float(match.group(1)) * UNITS[match.group(2)]
    if seconds < 0 or not seconds < 400 * 86400:
        raise ValueError(f"{what}={value!r} is out of range")
    return timedelta(seconds=seconds)


def _read(key: str, value: Any, what: str) -> Any:
    kind = RULE_FIELDS[key]
    if kind == "duration":
        return parse_duration(value, what)
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{what}={value!r} is not a number")
        return float(value)
    if kind == "count":
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{what}={value!r} is not a whole number >= 0")
        return value
    if kind == "share":
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise ValueError(f"{what}={value!r} is not a share between 0 and 1")
        return float(value)
    if kind == "severity":
        if value not in SEVERITIES:
            raise ValueError(f"{what}={value!r} is not one of {', '.join(SEVERITIES)}")
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise ValueError(f"{what}={value!r} is not true or false")
        return value
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{what}={value!r} is not a list of rule names")
    return tuple(value)


def _fields(node: Mapping[str, Any], allowed: set[str], what: str) -> dict[str, Any]:
    """Read the rule fields of a mapping into Rule attribute names."""
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == LINE_KEY:
            continue
        if key not in allowed:
            raise ValueError(f"unknown key {key!r} in {what} (expected one of {sorted(allowed)})")
        out[ATTRIBUTE.get(key, key)] = _read(key, value, f"{what}.{key}")
    return out


def _check(rule: Rule) -> None:
    for name in ("window", "baseline"):
        span: timedelta = getattr(rule, name)
        seconds = span.total_seconds()
        if seconds < BUCKET_S or seconds % BUCKET_S:
            raise ValueError(
                f"rule {rule.name!r}: {name} {seconds:g}s is not a whole number of "
                f"{BUCKET_S}s buckets"
            )
    if rule.exit > rule.enter:
        raise ValueError(
            f"rule {rule.name!r}: exit threshold {rule.exit:g} is stricter than enter "
            f"{rule.enter:g} (exit must be <= enter, the looser side of the hysteresis)"
        )
    if rule.name in rule.inhibits:
        raise ValueError(f"rule {rule.name!r} inhibits itself")


def parse_rules(data: Any, path: Path, registry: Registry | None = None) -> RuleSet:
    """Turn the parsed YAML of a rules file into a RuleSet, or say what is wrong; with a
    ``registry``, a rule naming a company it lacks is wrong too."""
    if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
        raise ConfigFileError(f"{path}: expected a mapping with a 'rules' list")
    shared = data.get("topics") or {}
    if not isinstance(shared, dict):
        raise ConfigFileError(f"{where(path, data)}: 'topics' must map topic names to overrides")
    allowed = set(RULE_FIELDS)
    try:
        shared_overrides = {
            str(topic): _fields(_mapping(o, f"topics.{topic}"), allowed, f"topics.{topic}")
            for topic, o in shared.items()
            if topic != LINE_KEY
        }
    except ValueError as e:
        raise ConfigFileError(f"{where(path, shared)}: {e}") from None
    specs: list[RuleSpec] = []
    for node in data["rules"]:
        try:
            spec = _parse_rule(node, shared_overrides, allowed)
            if registry is not None:
                _check_entities(spec, registry)
            specs.append(spec)
        except ValueError as e:
            raise ConfigFileError(f"{where(path, node)}: {e}") from None
    names = [s.rule.name for s in specs]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigFileError(f"{path}: rule names must be unique: {', '.join(dupes)}")
    for spec in specs:
        unknown = [n for n in spec.rule.inhibits if n not in names]
        if unknown:
            raise ConfigFileError(
                f"{path}: rule {spec.rule.name!r} inhibits unknown rule(s) {', '.join(unknown)}"
            )
    return RuleSet(tuple(specs), str(path))


def _mapping(node: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(node, dict):
        raise ValueError(f"{what} must be a mapping, got {node!r}")
    return cast(Mapping[str, Any], node)


def _parse_rule(node: Any, shared: Mapping[str, Mapping[str, Any]], allowed: set[str]) -> RuleSpec:
    node = _mapping(node, "a rule")
    name, kind = node.get("name"), node.get("kind")
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise ValueError(f"rule name {name!r} must match {NAME_RE.pattern}")
    if kind not in KINDS:
        raise ValueError(f"rule {name!r}: kind {kind!r} is not one of {', '.join(KINDS)}")
    required = {"window", "baseline", "enter", "exit", "min_count"}
    missing = sorted(required - set(node))
    if missing:
        raise ValueError(f"rule {name!r} is missing {', '.join(missing)}")
    body = {k: v for k, v in node.items() if k not in ("name", "kind", "topics", "entities")}
    rule = Rule(name=name, kind=cast(Kind, kind), **_fields(body, allowed, f"rule {name!r}"))
    _check(rule)
    overrides: dict[str, dict[str, Any]] = {t: dict(o) for t, o in shared.items()}
    own = node.get("topics") or {}
    for topic, o in _mapping(own, f"rule {name!r} topics").items():
        if topic == LINE_KEY:
            continue
        what = f"rule {name!r} topics.{topic}"
        overrides.setdefault(str(topic), {}).update(_fields(_mapping(o, what), allowed, what))
    spec = RuleSpec(rule, overrides, _entity_ids(node.get("entities"), name))
    for topic in overrides:
        _check(spec.for_topic(topic))
    return spec


def _entity_ids(value: Any, rule: str) -> tuple[str, ...]:
    """A rule's ``entities``: a list of registry ids (``AAPL``, ``SAP.DE``)."""
    if value is None:
        return ()
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(v, str) and ID_RE.match(v) for v in value)
    ):
        raise ValueError(
            f"rule {rule!r}: entities={value!r} is not a list of company ids like AAPL or SAP.DE"
        )
    return tuple(dict.fromkeys(value))


def _check_entities(spec: RuleSpec, registry: Registry) -> None:
    unknown = [e for e in spec.entities if e not in registry]
    if unknown:
        raise ValueError(
            f"rule {spec.rule.name!r}: {', '.join(unknown)} not in the company registry "
            "(entities/data/companies.yaml, or add it to your FINSENT_PIPELINE_COMPANIES file)"
        )


def load_rules(path: Path | None = None, registry: Registry | None = None) -> RuleSet:
    """The rules of ``path`` (else the shipped ones); companies checked against
    ``registry`` when given."""
    path = path or DEFAULT_RULES
    return parse_rules(load_yaml(path), path, registry)


# --- receivers -----------------------------------------------------------------------


def _secret_value(node: Mapping[str, Any], key: str, env: Mapping[str, str]) -> str | None:
    """``key`` itself, or the environment variable named by ``key_env``."""
    direct, var = node.get(key), node.get(f"{key}_env")
    if direct is not None and var is not None:
        raise ValueError(f"give {key} or {key}_env, not both")
    if var is not None:
        if not isinstance(var, str) or var not in env:
            raise ValueError(f"{key}_env names {var!r}, which is not set in the environment")
        return env[var]
    if direct is not None and not isinstance(direct, str):
        raise ValueError(f"{key} must be a string")
    return direct


def check_secret(secret: str) -> None:
    """A Standard Webhooks secret: ``whsec_`` + base64 of at least 24 bytes."""
    raw = secret.removeprefix("whsec_")
    try:
        key = base64.b64decode(raw + "==", validate=False)
    except (binascii.Error, ValueError):
        raise ValueError("secret is not base64 (expected whsec_ + base64)") from None
    if len(key) < 24:
        raise ValueError(f"secret decodes to {len(key)} bytes; use at least 24 (32 is usual)")


def _parse_receiver(
    node: Any, default_secret: str | None, default_timeout: float, env: Mapping[str, str]
) -> Receiver:
    node = _mapping(node, "a receiver")
    allowed = {
        "name",
        "url",
        "url_env",
        "format",
        "secret",
        "secret_env",
        "timeout",
        "headers",
        "send_resolved",
        LINE_KEY,
    }
    unknown = sorted(set(node) - allowed)
    if unknown:
        raise ValueError(f"unknown key(s) {', '.join(unknown)} in a receiver")
    name = node.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise ValueError(f"receiver name {name!r} must match {NAME_RE.pattern}")
    fmt = node.get("format", "generic")
    if fmt not in FORMATS:
        raise ValueError(f"receiver {name!r}: format {fmt!r} is not one of {', '.join(FORMATS)}")
    try:
        url = _secret_value(node, "url", env)
        secret = _secret_value(node, "secret", env) or default_secret
        if not url:
            raise ValueError("url (or url_env) is required")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("url must be an http:// or https:// URL with a host")
        if not secret:
            raise ValueError("no signing secret: set secret, secret_env or FINSENT_ALERTS_SECRET")
        check_secret(secret)
    except ValueError as e:
        raise ValueError(f"receiver {name!r}: {e}") from None
    timeout = node.get("timeout", default_timeout)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= 300:
        raise ValueError(f"receiver {name!r}: timeout={timeout!r} is not 0 < seconds <= 300")
    headers = node.get("headers") or {}
    if not isinstance(headers, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in headers.items() if k != LINE_KEY
    ):
        raise ValueError(f"receiver {name!r}: headers must map names to strings")
    send_resolved = node.get("send_resolved", True)
    if not isinstance(send_resolved, bool):
        raise ValueError(f"receiver {name!r}: send_resolved must be true or false")
    return Receiver(
        name=name,
        url=url,
        format=cast(Format, fmt),
        secret=secret,
        timeout=float(timeout),
        headers={k: v for k, v in headers.items() if k != LINE_KEY},
        send_resolved=send_resolved,
    )


def parse_receivers(
    data: Any,
    path: Path,
    *,
    default_secret: str | None = None,
    default_timeout: float = 10.0,
    env: Mapping[str, str] | None = None,
) -> tuple[Receiver, ...]:
    if data is None:
        return ()
    if not isinstance(data, dict) or not isinstance(data.get("receivers"), list):
        raise ConfigFileError(f"{path}: expected a mapping with a 'receivers' list")
    env = os.environ if env is None else env
    out: list[Receiver] = []
    for node in data["receivers"]:
        try:
            out.append(_parse_receiver(node, default_secret, default_timeout, env))
        except ValueError as e:
            raise ConfigFileError(f"{where(path, node)}: {e}") from None
    names = [r.name for r in out]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigFileError(f"{path}: receiver names must be unique: {', '.join(dupes)}")
    return tuple(out)


def load_receivers(
    path: Path | None, *, default_secret: str | None = None, default_timeout: float = 10.0
) -> tuple[Receiver, ...]:
    """The receivers of ``path``; none when no file is configured."""
    if path is None:
        return ()
    return parse_receivers(
        load_yaml(path), path, default_secret=default_secret, default_timeout=default_timeout
    )
