"""The alert lifecycle of one fingerprint (rule + topic), as a pure state machine.

::

    inactive ──enter──► pending ──enter held for `for`──► firing ──exit──► resolved
        ▲                  │                                                   │
        └───── enter lost ─┘            cooldown over, enter again ──► pending ┘

- pending needs the strict enter condition on every evaluation; one miss drops it back
  to inactive (so a flickering input never fires unless it holds for ``for``);
- firing stays while the looser exit condition holds (hysteresis), so input hovering
  around the enter threshold does not flap;
- after resolving, nothing can go pending before the cooldown is over;
- a rule that is inhibited on a topic (a more specific rule is pending or firing there)
  cannot go pending; one that already fires carries on until it resolves.

Only the transitions to firing and to resolved are events. Ids are derived from the
fingerprint and the firing time, so evaluating the same history twice yields the same
ids (and the outbox absorbs the repeat).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from alerts.rules import Observation, Rule

State = Literal["inactive", "pending", "firing", "resolved"]
STATES: tuple[State, ...] = ("inactive", "pending", "firing", "resolved")


@dataclass(frozen=True, slots=True)
class AlertState:
    fingerprint: str
    rule: str
    topic: str
    state: State = "inactive"
    since: datetime | None = None
    pending_since: datetime | None = None
    alert_id: str | None = None
    starts_at: datetime | None = None
    cooldown_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class Transition:
    """A change that is an event: to firing or to resolved."""

    status: Literal["firing", "resolved"]
    event_id: str
    alert_id: str
    fingerprint: str
    rule: str
    topic: str
    starts_at: datetime
    ends_at: datetime | None
    at: datetime
    observation: Observation


def fingerprint(rule: str, topic: str) -> str:
    return f"{rule}/{topic}"


def alert_id(fp: str, starts_at: datetime) -> str:
    return hashlib.sha256(f"{fp}|{starts_at.isoformat()}".encode()).hexdigest()[:32]


def event_id(alert: str, status: str) -> str:
    """The stable id of an alert's firing or resolved event (the webhook id)."""
    return "evt_" + hashlib.sha256(f"{alert}|{status}".encode()).hexdigest()[:28]


def initial(rule: str, topic: str) -> AlertState:
    return AlertState(fingerprint(rule, topic), rule, topic)


def advance(
    state: AlertState,
    obs: Observation,
    now: datetime,
    rule: Rule,
    *,
    inhibited: bool = False,
) -> tuple[AlertState, Transition | None]:
    """The next state of one fingerprint given this evaluation's observation."""
    enter = obs.enter and not inhibited and rule.enabled
    current = state.state
    if current == "firing":
        if obs.stay and rule.enabled:
            return state, None
        assert state.alert_id is not None and state.starts_at is not None
        resolved = replace(
            state,
            state="resolved",
            since=now,
            pending_since=None,
            cooldown_until=now + rule.cooldown,
        )
        return resolved, _transition("resolved", resolved, state.starts_at, now, obs)
    if current == "resolved" and state.cooldown_until is not None and now < state.cooldown_until:
        return state, None
    if current == "pending":
        if not enter:
            return replace(state, state="inactive", since=now, pending_since=None), None
        assert state.pending_since is not None
        if now - state.pending_since >= rule.hold:
            return _fire(state, now, obs)
        return state, None
    # inactive, or resolved with the cooldown over
    if not enter:
        if current == "resolved":  # the cooldown is over: back to rest
            return replace(state, state="inactive", since=now, cooldown_until=None), None
        return state, None
    if rule.hold.total_seconds() <= 0:
        return _fire(replace(state, pending_since=now), now, obs)
    return replace(state, state="pending", since=now, pending_since=now), None


def _fire(state: AlertState, now: datetime, obs: Observation) -> tuple[AlertState, Transition]:
    new_id = alert_id(state.fingerprint, now)
    firing = replace(
        state,
        state="firing",
        since=now,
        alert_id=new_id,
        starts_at=now,
        cooldown_until=None,
    )
    return firing, _transition("firing", firing, now, None, obs)


def _transition(
    status: Literal["firing", "resolved"],
    state: AlertState,
    starts_at: datetime,
    ends_at: datetime | None,
    obs: Observation,
) -> Transition:
    assert state.alert_id is not None
    at = ends_at or starts_at
    return Transition(
        status=status,
        event_id=event_id(state.alert_id, status),
        alert_id=state.alert_id,
        fingerprint=state.fingerprint,
        rule=state.rule,
        topic=state.topic,
        starts_at=starts_at,
        ends_at=ends_at,
        at=at,
        observation=obs,
    )
