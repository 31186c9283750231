"""One evaluation round over every rule and topic. Pure: states and buckets in, new
states and transitions out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from alerts.config import BUCKET_S, RuleSet
from alerts.lifecycle import AlertState, Transition, advance, fingerprint, initial
from alerts.rules import Bucket, Observation, Rule, observe


@dataclass(frozen=True, slots=True)
class RoundResult:
    states: dict[str, AlertState]
    changed: list[AlertState]
    transitions: list[tuple[Transition, Rule]]
    observations: dict[str, Observation] = field(default_factory=dict)


def closed_until(now: datetime, settle: timedelta) -> datetime:
    """End of the last bucket that closed at least ``settle`` before ``now``."""
    edge = (now - settle).timestamp()
    return datetime.fromtimestamp(int(edge // BUCKET_S) * BUCKET_S, UTC)


def _blocking(state: AlertState | None, now: datetime) -> bool:
    if state is None:
        return False
    if state.state in ("pending", "firing"):
        return True
    return (
        state.state == "resolved"
        and state.cooldown_until is not None
        and now < state.cooldown_until
    )


def evaluate_round(
    ruleset: RuleSet,
    states: Mapping[str, AlertState],
    buckets: Mapping[str, Sequence[Bucket]],
    *,
    now: datetime,
    as_of: datetime,
    observed_since: datetime | None = None,
) -> RoundResult:
    """Advance every (rule, series) that the rule targets (``RuleSpec.targets``: topics,
    or the companies it names) and that has data in range or is not inactive.

    Rules that inhibit others are evaluated first, so an inhibited rule sees this round's
    state of the rules inhibiting it.
    """
    topics = set(buckets) | {s.topic for s in states.values() if s.state != "inactive"}
    new_states = dict(states)
    changed: list[AlertState] = []
    transitions: list[tuple[Transition, Rule]] = []
    observations: dict[str, Observation] = {}
    inhibitors: dict[str, list[str]] = {}
    for spec in ruleset.rules:
        for target in spec.rule.inhibits:
            inhibitors.setdefault(target, []).append(spec.rule.name)
    for spec in ruleset.ordered():
        for topic in sorted(t for t in topics if spec.targets(t)):
            rule = spec.for_topic(topic)
            fp = fingerprint(rule.name, topic)
            state = new_states.get(fp) or initial(rule.name, topic)
            if not rule.enabled and state.state == "inactive":
                continue
            inhibited = any(
                _blocking(new_states.get(fingerprint(other, topic)), now)
                for other in inhibitors.get(rule.name, ())
            )
            obs = observe(rule, buckets.get(topic, ()), as_of, observed_since)
            observations[fp] = obs
            after, transition = advance(state, obs, now, rule, inhibited=inhibited)
            if after != state:
                new_states[fp] = after
                changed.append(after)
            if transition is not None:
                transitions.append((transition, rule))
    return RoundResult(new_states, changed, transitions, observations)
