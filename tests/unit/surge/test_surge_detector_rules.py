"""The detector's rules one at a time: settings checked naming the field, cold start, minimum
duration, NaN intervals, time order, the seasonal slot an observation falls in, history seeding."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from ccsurge.assessment import SurgeKey, SurgeMetric
from ccsurge.baseline import week_position
from ccsurge.detector import Detector
from ccsurge.history import interval_counts
from ccsurge.settings import DetectorSettings, SurgeSettingsError, settings_for
from ccsurge.simulate import MONDAY, traffic

KEY = SurgeKey("eu", "acme", "support", "sms")


@pytest.mark.parametrize(
    "field, value",
    [
        ("sensitivity", 0.0),
        ("threshold", float("nan")),
        ("clear_threshold", 7.0),  # not below the threshold: no hysteresis
        ("ewma_weight", 1.5),
        ("cusum_allowance", -1.0),
        ("min_duration_seconds", -5.0),
        ("direction", 2),
        ("slot_memory", 0),
        ("min_slot_samples", 100),
        ("cold_start_baseline", -1.0),
    ],
)
def test_a_setting_out_of_range_is_refused_naming_it(field: str, value: float) -> None:
    with pytest.raises(SurgeSettingsError) as error:
        DetectorSettings(**{field: value})
    assert error.value.field == field
    assert field in str(error.value)


def test_each_metric_watches_the_direction_that_hurts() -> None:
    assert settings_for(SurgeMetric.ARRIVALS).direction == 0
    assert settings_for(SurgeMetric.WAITING).direction == 1
    assert settings_for(SurgeMetric.SERVICE_LEVEL).direction == -1
    assert settings_for(SurgeMetric.ARRIVALS, sensitivity=2.0).sensitivity == 2.0


def test_week_position_starts_monday_midnight_in_quarter_hours() -> None:
    assert week_position(MONDAY) == 0.0
    assert week_position(MONDAY + 15 * 60) == 1.0
    assert week_position(MONDAY + 6 * 86_400 + 23.75 * 3600) == 671.0
    assert week_position(MONDAY + 7 * 86_400) == 0.0
    # Local time: two hours ahead of UTC, Monday 00:00 UTC is slot 8.
    assert week_position(MONDAY, 7200.0) == 8.0


def test_cold_start_judges_against_the_default_then_the_recent_normal() -> None:
    detector = Detector(KEY, SurgeMetric.ARRIVALS)
    first = detector.observe(MONDAY + 60, 0.0)
    assert (first.baseline, first.score, first.alert) == (0.0, 0.0, False)
    for minute in range(2, 12):
        detector.observe(MONDAY + 60 * minute, 10.0)
    settled = detector.observe(MONDAY + 60 * 12, 10.0)
    assert settled.baseline == pytest.approx(10.0)
    assert not detector.baseline.seasonal


def test_an_anomaly_alerts_only_once_it_lasted_the_minimum_duration() -> None:
    detector = Detector(
        KEY, SurgeMetric.ARRIVALS, replace(settings_for(SurgeMetric.ARRIVALS), min_duration_seconds=180)
    )
    at = MONDAY
    for _ in range(10):
        at += 60
        detector.observe(at, 5.0)
    alerts = []
    for _ in range(4):
        at += 60
        alerts.append(detector.observe(at, 200.0).alert)
    assert alerts == [False, False, True, True]
    assert detector.alert_started_at == at - 60


def test_a_single_outlier_with_a_longer_minimum_raises_nothing() -> None:
    detector = Detector(
        KEY, SurgeMetric.ARRIVALS, replace(settings_for(SurgeMetric.ARRIVALS), min_duration_seconds=120)
    )
    at = MONDAY
    for value in [5.0] * 10 + [200.0] + [5.0] * 5:
        at += 60
        assert not detector.observe(at, value).alert


def test_a_watched_direction_ignores_the_other() -> None:
    # Only rises matter; fifty waiting is what this queue is used to.
    waiting = Detector(KEY, SurgeMetric.WAITING, settings_for(SurgeMetric.WAITING, cold_start_baseline=50.0))
    at = MONDAY
    for _ in range(10):
        at += 60
        waiting.observe(at, 50.0)
    for _ in range(5):
        at += 60
        assert not waiting.observe(at, 0.0).alert


def test_a_nan_interval_is_not_judged_and_changes_nothing() -> None:
    detector = Detector(KEY, SurgeMetric.SERVICE_LEVEL)
    before = detector.observe(MONDAY + 60, 0.9)
    nothing = detector.observe(MONDAY + 120, math.nan)
    assert math.isnan(nothing.value)
    assert (nothing.score, nothing.alert) == (0.0, before.alert)


def test_observations_out_of_time_order_are_refused() -> None:
    detector = Detector(KEY, SurgeMetric.ARRIVALS)
    detector.observe(MONDAY + 120, 1.0)
    with pytest.raises(ValueError, match="older than the previous one"):
        detector.observe(MONDAY + 60, 1.0)


def test_history_seeds_the_seasonal_baseline_without_judging_it() -> None:
    ends, arrivals = traffic(MONDAY, 2, seed=5)
    detector = Detector(KEY, SurgeMetric.ARRIVALS)
    detector.learn_history(ends, arrivals)
    # Next Wednesday 11:00 (a busy slot): the seasonal baseline is known at once.
    at = MONDAY + 14 * 86_400 + 2 * 86_400 + 11 * 3600 + 60
    assessment = detector.observe(at, 20.0)
    assert detector.baseline.seasonal
    assert 15 < assessment.baseline < 25
    assert not assessment.alert


def test_past_arrivals_become_interval_counts_zeros_included() -> None:
    ends, counts = interval_counts([60.0, 61.0, 119.0, 240.0, 999.0, -5.0], 0.0, 240.0, 60.0)
    assert ends.tolist() == [60.0, 120.0, 180.0, 240.0]
    assert counts.tolist() == [1.0, 2.0, 0.0, 1.0]


def test_a_queue_already_busy_when_the_detector_starts_is_not_a_surge() -> None:
    detector = Detector(KEY, SurgeMetric.WAITING)  # the guess: nobody waits
    at = MONDAY
    for _ in range(30):
        at += 60
        assert not detector.observe(at, 40.0).alert


def test_without_history_a_queue_filling_over_a_few_intervals_alerts() -> None:
    # Quiet, then the waiting line grows by one or two an interval: no interval is extreme
    # alone; the EWMA and CUSUM against the recent level see the shift.
    detector = Detector(KEY, SurgeMetric.WAITING, settings_for(SurgeMetric.WAITING, min_duration_seconds=1))
    at = MONDAY
    for _ in range(30):
        at += 1
        detector.observe(at, 0.0)
    verdicts = []
    for waiting in (1, 3, 4, 6, 7, 8, 8, 8):
        at += 1
        assessment = detector.observe(at, float(waiting))
        verdicts.append(assessment.alert)
        assert assessment.score < detector.settings.threshold
    assert not verdicts[0] and verdicts[-1]
    assert detector.direction == 1


def test_a_rise_clears_when_the_queue_drains_below_the_level_it_lifted() -> None:
    # Without a trusted slot the baseline is the recent level: a busy spell lifts it, so the
    # drained queue sits far below it. That is the rise over, not a surge going on.
    settings = settings_for(SurgeMetric.WAITING, min_duration_seconds=1, clear_duration_seconds=2)
    detector = Detector(KEY, SurgeMetric.WAITING, settings)
    at = MONDAY
    for waiting in [10.0] * 25 + [60.0] * 4:
        at += 1
        detector.observe(at, waiting)
    assert detector.alert and detector.direction == 1
    drained = []
    for _ in range(4):
        at += 1
        drained.append(detector.observe(at, 0.0))
    assert drained[0].score < -detector.settings.clear_threshold  # far below the recent level
    assert [a.alert for a in drained] == [True, False, False, False]  # calm for two seconds
