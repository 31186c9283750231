"""The lifecycle: pending, firing, resolved, cooldown, no flapping, inhibition."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from alerts.config import RuleSet, RuleSpec
from alerts.evaluation import closed_until, evaluate_round
from alerts.lifecycle import AlertState, Transition, advance, event_id, initial
from alerts.rules import Observation, Rule, Totals
from storage.articles import SeriesPoint

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)
RULE = Rule(
    name="negative_surge",
    kind="negative_surge",
    window=timedelta(minutes=30),
    baseline=timedelta(hours=6),
    enter=4.0,
    exit=2.0,
    min_count=10,
    hold=timedelta(minutes=5),
    cooldown=timedelta(minutes=30),
)


def obs(score: float | None) -> Observation:
    enter = score is not None and score >= RULE.enter
    stay = score is not None and score >= RULE.exit
    return Observation(
        rule=RULE.name,
        kind=RULE.kind,
        enter=enter,
        stay=stay,
        value=None,
        baseline=None,
        score=score,
        threshold=RULE.enter,
        exit_threshold=RULE.exit,
        window_start=T0,
        window_end=T0,
        baseline_start=T0,
        window=Totals(),
        base=Totals(),
        reason="test",
    )


def run(scores: list[float | None], rule: Rule = RULE) -> tuple[AlertState, list[Transition]]:
    """Feed one score per minute; return the final state and the events."""
    state, events = initial(rule.name, "acme"), []
    for i, score in enumerate(scores):
        state, t = advance(state, obs(score), T0 + i * MIN, rule)
        if t is not None:
            events.append(t)
    return state, events


def test_pending_must_hold_for_the_duration_before_firing() -> None:
    state, events = run([5.0] * 5)
    assert state.state == "pending" and events == []
    state, events = run([5.0] * 6)  # minute 0 .. 5: held 5 minutes
    assert state.state == "firing"
    assert [(e.status, e.starts_at) for e in events] == [("firing", T0 + 5 * MIN)]


def test_firing_then_resolved_emits_two_events_with_stable_ids() -> None:
    state, events = run([5.0] * 8 + [1.0])
    assert [e.status for e in events] == ["firing", "resolved"]
    firing, resolved = events
    assert firing.alert_id == resolved.alert_id
    assert firing.event_id == event_id(firing.alert_id, "firing") != resolved.event_id
    assert resolved.ends_at == T0 + 8 * MIN
    assert state.state == "resolved" and state.cooldown_until == T0 + 38 * MIN
    again = run([5.0] * 8 + [1.0])[1]
    assert [e.event_id for e in again] == [e.event_id for e in events]


def test_flickering_above_the_enter_threshold_never_fires() -> None:
    state, events = run([5.0, 1.0] * 30)
    assert events == [] and state.state in ("inactive", "pending")


def test_hovering_around_the_enter_threshold_while_firing_does_not_flap() -> None:
    _, events = run([5.0] * 6 + [3.0, 4.5, 2.5, 4.1, 2.0, 3.9] * 10)
    assert [e.status for e in events] == ["firing"]


def test_a_gap_with_no_data_resolves_a_firing_alert() -> None:
    state, events = run([5.0] * 6 + [None])
    assert [e.status for e in events] == ["firing", "resolved"]
    assert state.state == "resolved"


def test_no_new_alert_during_the_cooldown() -> None:
    # fires at 5, resolves at 6, cooldown to 36: surging again at once waits for it
    state, events = run([5.0] * 6 + [1.0] + [5.0] * 29)
    assert [e.status for e in events] == ["firing", "resolved"] and state.state == "resolved"
    state, events = run([5.0] * 6 + [1.0] + [5.0] * 34)
    assert [e.status for e in events] == ["firing", "resolved"] and state.state == "pending"
    state, events = run([5.0] * 6 + [1.0] + [5.0] * 35)
    assert [e.status for e in events] == ["firing", "resolved", "firing"]
    assert events[0].alert_id != events[2].alert_id


def test_without_a_for_duration_it_fires_at_once() -> None:
    state, events = run([5.0], replace(RULE, hold=timedelta(0)))
    assert state.state == "firing" and [e.status for e in events] == ["firing"]


def test_a_disabled_rule_resolves_what_it_had_fired() -> None:
    state, _ = run([5.0] * 6)
    state, t = advance(state, obs(5.0), T0 + 7 * MIN, replace(RULE, enabled=False))
    assert state.state == "resolved" and t is not None and t.status == "resolved"


# --- a whole round -------------------------------------------------------------------


def _surge_series(until: datetime, surge_from: datetime) -> list[SeriesPoint]:
    """Per minute: 2 neutral items, plus 4 negative ones from ``surge_from`` on."""
    out = []
    t = until - timedelta(hours=7)
    while t < until:
        neg = 4 if t >= surge_from else 0
        out.append(SeriesPoint("acme", t, neg, 2, 0, -0.9 * neg))
        t += MIN
    return out


def _ruleset(inhibit: bool = True) -> RuleSet:
    surge = replace(RULE, inhibits=("volume_spike",) if inhibit else (), min_share=0.3)
    volume = Rule(
        name="volume_spike",
        kind="volume_spike",
        window=timedelta(minutes=30),
        baseline=timedelta(hours=6),
        enter=8.0,
        exit=4.0,
        min_count=20,
        hold=timedelta(minutes=5),
    )
    return RuleSet((RuleSpec(surge), RuleSpec(volume, {"market": {"enabled": False}})))


def _surge_round(rules: RuleSet) -> list[str]:
    surge_from = T0 + 10 * MIN
    states: dict[str, AlertState] = {}
    events: list[str] = []
    for minute in range(0, 40):
        now = T0 + minute * MIN + timedelta(seconds=45)
        as_of = closed_until(now, timedelta(seconds=30))
        data = {"acme": _surge_series(as_of, surge_from)}
        result = evaluate_round(rules, states, data, now=now, as_of=as_of)
        states = result.states
        events += [f"{t.status}:{t.rule}" for t, _ in result.transitions]
    return events


def test_a_round_fires_the_inhibiting_rule_only() -> None:
    assert sorted(_surge_round(_ruleset(inhibit=False))) == [
        "firing:negative_surge",
        "firing:volume_spike",
    ]
    assert _surge_round(_ruleset()) == ["firing:negative_surge"]


def test_a_topic_without_data_is_evaluated_while_its_alert_fires() -> None:
    rules = RuleSet((RuleSpec(replace(RULE, hold=timedelta(0), min_share=0.0)),))
    data = {"acme": _surge_series(T0, T0 - 20 * MIN)}
    first = evaluate_round(rules, {}, data, now=T0, as_of=T0)
    assert [t.status for t, _ in first.transitions] == ["firing"]
    later = evaluate_round(rules, first.states, {}, now=T0 + MIN, as_of=T0 + MIN)
    assert [t.status for t, _ in later.transitions] == ["resolved"]


def test_closed_until_is_the_last_bucket_edge_before_the_settle_time() -> None:
    assert closed_until(T0 + timedelta(seconds=95), timedelta(seconds=30)) == T0 + MIN
    assert closed_until(T0 + timedelta(seconds=89), timedelta(seconds=30)) == T0


def test_after_the_cooldown_a_quiet_fingerprint_goes_back_to_rest() -> None:
    state, _ = run([5.0] * 6 + [1.0] * 30)  # resolved at 6, cooldown until 36
    assert state.state == "resolved"
    state, events = run([5.0] * 6 + [1.0] * 31)
    assert state.state == "inactive" and [e.status for e in events] == ["firing", "resolved"]


def test_the_test_event_has_the_fields_of_a_real_one() -> None:
    """`finsent alerts test` sends what receivers will get, field for field."""
    from alerts.events import build_event, test_event

    _, (firing,) = run([5.0] * 6)
    real = build_event(firing, RULE, [], "http://dash.example")
    test = test_event("acme", T0)
    assert test.keys() == real.keys()
    assert (test["schema"], test["type"], test["topic"]) == (real["schema"], "alert.test", "acme")
    assert test["at"] == "2026-03-02T12:00:00Z"
