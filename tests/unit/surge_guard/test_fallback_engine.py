"""The fallback engine: engage after the minimum time, release with hysteresis, manual holds."""

from __future__ import annotations

from ccsurge.assessment import Assessment, SurgeKey, SurgeMetric
from routing.domain.fallback import PREDICTED_SERVICE_LEVEL, Evidence, FallbackPolicy, FallbackStep
from routing.domain.fallback_engine import Engaged, FallbackEngine, Phase, Released

KEY = SurgeKey("eu", "acme", "support", "sms")
OTHER_QUEUE = SurgeKey("eu", "acme", "billing", "sms")


def policy(**overrides: object) -> FallbackPolicy:
    fields: dict[str, object] = {
        "name": "burst",
        "tenant": "acme",
        "queue": "support",
        "metrics": frozenset({SurgeMetric.ARRIVALS, SurgeMetric.SERVICE_LEVEL}),
        "predicted_service_level_under": None,
        "engage_after_seconds": 60.0,
        "release_after_seconds": 300.0,
        "release_margin": 0.05,
        "steps": (FallbackStep("callback"), FallbackStep("journey", flow="support", alias="live", version=2)),
    }
    fields.update(overrides)
    return FallbackPolicy(**fields)  # type: ignore[arg-type]


def arrivals(at: float, alert: bool, key: SurgeKey = KEY, direction: int = 1) -> Assessment:
    value = 50.0 if alert else 5.0
    return Assessment(key, SurgeMetric.ARRIVALS, at, value, 5.0, 9.0 if alert else 0.1, alert, direction)


def run(engine: FallbackEngine, start: float, end: float, alert: bool, step: float = 30.0) -> list[object]:
    decisions: list[object] = []
    at = start
    while at <= end:
        decisions += engine.observe(at, [arrivals(at, alert)])
        at += step
    return decisions


def test_a_single_alerting_interval_engages_nothing() -> None:
    engine = FallbackEngine([policy()])
    assert engine.observe(0.0, [arrivals(0.0, True)]) == []
    assert engine.state("burst").phase is Phase.PENDING
    assert engine.observe(30.0, [arrivals(30.0, False)]) == []
    assert engine.state("burst").phase is Phase.NORMAL
    assert run(engine, 60.0, 600.0, alert=False) == []


def test_engages_once_the_alert_held_for_the_minimum_time_with_its_evidence() -> None:
    engine = FallbackEngine([policy()])
    decisions = run(engine, 0.0, 120.0, alert=True)
    assert len(decisions) == 1
    engaged = decisions[0]
    assert isinstance(engaged, Engaged)
    assert engaged.at == 60.0
    assert (engaged.evidence.metric, engaged.evidence.value, engaged.evidence.baseline) == (
        "arrivals",
        50.0,
        5.0,
    )
    assert engaged.evidence.score == 9.0
    assert engaged.evidence.where == "eu/acme/support/sms"
    assert not engaged.manual


def test_releases_only_after_normal_held_for_release_time_and_reports_the_normal_value() -> None:
    engine = FallbackEngine([policy()])
    run(engine, 0.0, 120.0, alert=True)
    # Normal for 240 s, then one more alert: the release clock starts again.
    assert run(engine, 150.0, 390.0, alert=False) == []
    assert engine.state("burst").phase is Phase.RELEASING
    assert run(engine, 420.0, 420.0, alert=True) == []
    assert engine.state("burst").phase is Phase.ENGAGED
    decisions = run(engine, 450.0, 780.0, alert=False)
    assert len(decisions) == 1
    released = decisions[0]
    assert isinstance(released, Released)
    assert released.at == 750.0 and released.reason == "normal" and released.engaged_at == 60.0
    assert (released.evidence.metric, released.evidence.value, released.evidence.score) == (
        "arrivals",
        5.0,
        0.1,
    )


def test_alerts_of_other_queues_tenants_metrics_or_the_harmless_direction_are_ignored() -> None:
    engine = FallbackEngine([policy(engage_after_seconds=0.0)])
    ignored = [
        arrivals(0.0, True, key=OTHER_QUEUE),
        arrivals(0.0, True, key=SurgeKey("eu", "globex", "support", "sms")),
        arrivals(0.0, True, direction=-1),  # arrivals dropping: an outage upstream, not a surge
        Assessment(KEY, SurgeMetric.WAITING, 0.0, 90.0, 3.0, 12.0, True, 1),  # not a metric of the policy
        Assessment(KEY, SurgeMetric.SERVICE_LEVEL, 0.0, 0.95, 0.8, 3.0, True, 1),  # service got better
    ]
    assert engine.observe(0.0, ignored) == []
    falling = Assessment(KEY, SurgeMetric.SERVICE_LEVEL, 30.0, 0.2, 0.8, -6.0, True, -1)
    (engaged,) = engine.observe(30.0, [falling])
    assert isinstance(engaged, Engaged) and engaged.evidence.metric == "service_level"


def test_a_tenant_wide_policy_takes_the_strongest_alert_of_any_queue() -> None:
    engine = FallbackEngine([policy(queue="", engage_after_seconds=0.0)])
    weak = arrivals(0.0, True)
    strong = Assessment(OTHER_QUEUE, SurgeMetric.ARRIVALS, 0.0, 99.0, 5.0, 20.0, True, 1)
    (engaged,) = engine.observe(0.0, [weak, strong])
    assert isinstance(engaged, Engaged) and engaged.evidence.where == "eu/acme/billing/sms"


def test_predicted_service_level_engages_below_and_releases_only_above_the_margin() -> None:
    engine = FallbackEngine(
        [
            policy(
                metrics=frozenset(),
                predicted_service_level_under=0.8,
                engage_after_seconds=30.0,
                release_after_seconds=60.0,
            )
        ]
    )
    low = {("acme", "support"): 0.5, ("acme", "billing"): 0.1}  # billing is not the policy's queue
    assert engine.observe(0.0, [], low) == []
    (engaged,) = engine.observe(30.0, [], low)
    assert isinstance(engaged, Engaged)
    assert engaged.evidence.metric == PREDICTED_SERVICE_LEVEL
    assert (engaged.evidence.value, engaged.evidence.baseline) == (0.5, 0.8)
    # Inside the band (0.8 .. 0.85): neither bad nor clear; it stays engaged however long.
    for at in (60.0, 120.0, 180.0, 240.0):
        assert engine.observe(at, [], {("acme", "support"): 0.82}) == []
    assert engine.state("burst").phase is Phase.ENGAGED
    assert engine.observe(300.0, [], {("acme", "support"): 0.9}) == []
    (released,) = engine.observe(360.0, [], {("acme", "support"): 0.9})
    assert isinstance(released, Released) and released.evidence.value == 0.9


def test_a_manual_engagement_holds_until_released_by_hand() -> None:
    engine = FallbackEngine([policy()])
    engaged = engine.engage("burst", 0.0, by="sup-1")
    assert engaged is not None and engaged.manual and engaged.evidence.metric == "manual"
    assert run(engine, 30.0, 3600.0, alert=False) == []
    assert engine.state("burst").phase is Phase.ENGAGED
    assert engine.engage("burst", 3700.0, by="sup-1") is None
    released = engine.release("burst", 3800.0, by="sup-1")
    assert released is not None and released.reason == "manual"
    assert engine.release("burst", 3900.0, by="sup-1") is None


def test_a_manual_release_during_a_surge_is_not_undone_until_the_surge_cleared_once() -> None:
    engine = FallbackEngine([policy()])
    run(engine, 0.0, 120.0, alert=True)
    assert engine.release("burst", 130.0, by="sup-1") is not None
    assert run(engine, 150.0, 900.0, alert=True) == []
    assert run(engine, 930.0, 930.0, alert=False) == []
    (engaged,) = run(engine, 960.0, 1020.0, alert=True)
    assert isinstance(engaged, Engaged) and engaged.at == 1020.0


def test_unknown_policy_names_are_refused_naming_the_configured_ones() -> None:
    engine = FallbackEngine([policy()])
    try:
        engine.engage("nope", 0.0, by="sup-1")
    except LookupError as error:
        assert "nope" in str(error) and "burst" in str(error)
    else:
        raise AssertionError("an unknown policy was engaged")


def test_a_changed_or_removed_engaged_policy_is_released_first() -> None:
    engine = FallbackEngine([policy()])
    run(engine, 0.0, 120.0, alert=True)
    (released,) = engine.set_policies([policy(engage_after_seconds=10.0)], at=200.0)
    assert isinstance(released, Released) and released.reason == "policy_removed"
    assert engine.state("burst").phase is Phase.NORMAL
    assert engine.set_policies([policy(engage_after_seconds=10.0)], at=210.0) == []
    assert engine.set_policies([], at=220.0) == []
    assert engine.policies == {}


def test_a_restored_automatic_engagement_releases_after_normal_held_with_its_evidence() -> None:
    engine = FallbackEngine([policy()])
    evidence = Evidence("arrivals", 50.0, 5.0, 9.0, KEY.label())
    assert engine.restore("burst", 100.0, evidence, manual=False)
    state = engine.state("burst")
    assert (state.phase, state.engaged_at, state.evidence, state.manual) == (
        Phase.ENGAGED,
        100.0,
        evidence,
        "",
    )
    assert run(engine, 200.0, 470.0, alert=False) == []  # normal for 270 s of the 300 needed
    (released,) = run(engine, 500.0, 500.0, alert=False)
    assert isinstance(released, Released) and released.reason == "normal" and released.engaged_at == 100.0
    assert released.evidence.value == 5.0


def test_a_restored_manual_engagement_holds_until_released_by_hand() -> None:
    engine = FallbackEngine([policy()])
    assert engine.restore("burst", 100.0, Evidence("manual", 0.0, 0.0, 0.0, "sup-1"), manual=True)
    assert run(engine, 130.0, 3600.0, alert=False) == []
    assert engine.state("burst").phase is Phase.ENGAGED
    released = engine.release("burst", 3700.0, by="sup-1")
    assert released is not None and released.reason == "manual" and released.engaged_at == 100.0


def test_restoring_a_policy_no_longer_configured_changes_nothing() -> None:
    engine = FallbackEngine([policy()])
    assert not engine.restore("gone", 100.0, Evidence("arrivals", 50.0, 5.0, 9.0), manual=False)
    assert engine.state("burst").phase is Phase.NORMAL
    assert engine.engaged() == []
