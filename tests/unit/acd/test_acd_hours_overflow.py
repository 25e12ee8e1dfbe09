"""Business hours across DST and holidays; overflow rules and residency."""

import datetime as dt

import pytest

from routing.domain.agents import AcdInputError
from routing.domain.hours import BusinessHours
from routing.domain.overflow import OverflowRule, QueueStats, Waiting, plan_overflow, residency_violations

UTC = dt.UTC


def weekday_hours(**kw: object) -> BusinessHours:
    days = {d: ["09:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    return BusinessHours.parse("Europe/Berlin", days, **kw)  # type: ignore[arg-type]


def test_opening_follows_local_time_across_the_dst_change() -> None:
    hours = weekday_hours()
    # Berlin leaves summer time on Sunday 25 Oct 2026: 09:00 local is 07:00 UTC before, 08:00 UTC after.
    assert hours.is_open(dt.datetime(2026, 10, 24, 7, 0, tzinfo=UTC))
    assert not hours.is_open(dt.datetime(2026, 10, 24, 6, 59, tzinfo=UTC))
    assert not hours.is_open(dt.datetime(2026, 10, 26, 7, 30, tzinfo=UTC))
    assert hours.is_open(dt.datetime(2026, 10, 26, 8, 0, tzinfo=UTC))
    # Closing: 17:00 local is 15:00 UTC in summer, 16:00 UTC in winter.
    assert not hours.is_open(dt.datetime(2026, 10, 24, 15, 0, tzinfo=UTC))
    assert hours.is_open(dt.datetime(2026, 10, 26, 15, 30, tzinfo=UTC))


def test_public_holiday_closes_and_an_override_reopens() -> None:
    christmas = dt.datetime(2026, 12, 25, 10, 0, tzinfo=UTC)
    assert weekday_hours().is_open(christmas)
    assert not weekday_hours(holiday_country="DE").is_open(christmas)
    reopened = weekday_hours(holiday_country="DE", overrides={"2026-12-25": ["10:00-12:00"]})
    assert reopened.is_open(christmas)


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: BusinessHours.parse("Mars/Olympus", {}), "time_zone"),
        (lambda: BusinessHours.parse("UTC", {"funday": ["09:00-10:00"]}), "hours.weekly.funday"),
        (lambda: BusinessHours.parse("UTC", {"mon": ["10:00-09:00"]}), "hours.weekly.mon"),
        (lambda: BusinessHours.parse("UTC", {}, closed_action="queue"), "hours.closed_target_queue"),
        (lambda: BusinessHours.parse("UTC", {}, holiday_country="XX"), "hours.holiday_country"),
    ],
)
def test_bad_hours_name_the_field(build: object, field: str) -> None:
    with pytest.raises(AcdInputError) as caught:
        build()  # type: ignore[operator]
    assert caught.value.field == field


STATS = QueueStats(depth=5, predicted_service_level=lambda: 0.5)


def firing_rule(
    rules: list[OverflowRule], waited: float, stats: QueueStats
) -> tuple[OverflowRule, str] | None:
    """The rule that fires for the last contact of a queue `stats.depth` deep that waited `waited`."""
    waiting = [Waiting(f"c{i}", 0.0) for i in range(max(0, stats.depth - 1))] + [Waiting("last", waited)]
    return plan_overflow(rules, waiting, stats, 0.0, {}).get("last")


def test_overflow_fires_on_wait_depth_or_predicted_service_level() -> None:
    by_wait = OverflowRule("slow", "q", "q2", wait_seconds_over=60)
    by_depth = OverflowRule("deep", "q", "q2", depth_over=10)
    by_sla = OverflowRule("sla", "q", "q2", predicted_service_level_under=0.8)
    assert firing_rule([by_wait], 30, STATS) is None
    assert firing_rule([by_wait], 61, STATS)[0].name == "slow"  # type: ignore[index]
    assert firing_rule([by_depth], 0, STATS) is None
    assert firing_rule([by_depth], 0, QueueStats(11, lambda: 0.5))[0].name == "deep"  # type: ignore[index]
    assert firing_rule([by_sla], 0, QueueStats(0, lambda: 0.95)) is None
    fired = firing_rule([by_sla], 0, STATS)
    assert fired is not None and "predicted service level 0.50 < 0.8" in fired[1]


def test_residency_violations_name_rule_and_regions() -> None:
    rules = [
        OverflowRule("to-us", "q", "q-us", target_region="us", wait_seconds_over=1),
        OverflowRule("to-uk", "q", "q-uk", target_region="uk", wait_seconds_over=1),
    ]
    problems = residency_violations(rules, "eu", ["uk"])
    assert len(problems) == 1 and "'to-us'" in problems[0] and "'us'" in problems[0] and "'eu'" in problems[0]


def test_overflow_rule_needs_a_threshold_and_a_known_action() -> None:
    with pytest.raises(AcdInputError, match="threshold"):
        OverflowRule("r", "q", "q2")
    with pytest.raises(AcdInputError) as caught:
        OverflowRule("r", "q", "q2", action="teleport", depth_over=1)
    assert caught.value.field == "overflow[r].action"
