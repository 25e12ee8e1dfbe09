"""The detector on simulated weeks of traffic (weekday and time-of-day seasonality, Poisson noise).

Three weeks of history are streamed through one detector first (it starts cold, learns its
weekday x 15-minute baselines as it goes); then each scenario replays a fourth week through a
copy of it: a normal week must raise nothing, a 10x burst of 20 minutes must alert within 2
simulated minutes and clear within 10 after it ends, a slow ramp to 2x over an hour and a drop
to zero (an outage upstream) must be detected.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

from ccsurge.assessment import SurgeKey, SurgeMetric
from ccsurge.detector import Detector
from ccsurge.simulate import MONDAY, WEEK_SECONDS, Change, traffic

HISTORY_WEEKS = 3
WEEK = MONDAY + HISTORY_WEEKS * WEEK_SECONDS
HOUR = 3600.0
DAY = 86_400.0


def alerts_of(detector: Detector, ends: np.ndarray, values: np.ndarray) -> np.ndarray:
    flags = np.zeros(len(ends), dtype=bool)
    for i, (at, value) in enumerate(zip(ends.tolist(), values.tolist(), strict=True)):
        detector.step(at, value)
        flags[i] = detector.alert
    return flags


def rising_and_falling(ends: np.ndarray, flags: np.ndarray) -> tuple[list[float], list[float]]:
    steps = np.diff(np.concatenate([[0], flags.astype(int)]))
    return ends[steps == 1].tolist(), ends[steps == -1].tolist()


@pytest.fixture(scope="module")
def trained() -> tuple[Detector, int]:
    detector = Detector(SurgeKey("eu", "acme", "support"), SurgeMetric.ARRIVALS)
    ends, arrivals = traffic(MONDAY, HISTORY_WEEKS, seed=11)
    history_alerts = int(alerts_of(detector, ends, arrivals).sum())
    return detector, history_alerts


def replay_week(trained: tuple[Detector, int], *changes: Change) -> tuple[list[float], list[float]]:
    detector = copy.deepcopy(trained[0])
    ends, arrivals = traffic(WEEK, 1, seed=12, changes=changes)
    return rising_and_falling(ends, alerts_of(detector, ends, arrivals))


def test_history_weeks_cold_start_included_raise_nothing(trained: tuple[Detector, int]) -> None:
    assert trained[1] == 0


def test_a_normal_week_raises_nothing(trained: tuple[Detector, int]) -> None:
    rises, _ = replay_week(trained)
    assert rises == []


@pytest.mark.parametrize("day, hour", [(2, 11.0), (5, 14.0)], ids=["wednesday-noon", "saturday-afternoon"])
def test_a_tenfold_burst_alerts_within_two_minutes_and_clears_within_ten_after(
    trained: tuple[Detector, int], day: int, hour: float
) -> None:
    burst = Change(WEEK + day * DAY + hour * HOUR, 20 * 60, 10.0)
    rises, falls = replay_week(trained, burst)
    assert len(rises) == 1, rises
    assert burst.start < rises[0] <= burst.start + 120
    assert len(falls) == 1
    assert falls[0] <= burst.start + burst.seconds + 600


def test_a_slow_ramp_to_double_within_an_hour_is_detected(trained: tuple[Detector, int]) -> None:
    ramp = Change(WEEK + 1 * DAY + 9 * HOUR, HOUR, 2.0, ramp=True, hold=HOUR)
    rises, _ = replay_week(trained, ramp)
    assert len(rises) == 1, rises
    assert ramp.start < rises[0] <= ramp.start + HOUR


def test_a_drop_to_zero_is_detected_as_a_fall(trained: tuple[Detector, int]) -> None:
    outage = Change(WEEK + 3 * DAY + 14 * HOUR, 30 * 60, 0.0)
    detector = copy.deepcopy(trained[0])
    ends, arrivals = traffic(WEEK, 1, seed=12, changes=(outage,))
    directions = []
    for at, value in zip(ends.tolist(), arrivals.tolist(), strict=True):
        assessment = detector.observe(at, value)
        if assessment.alert and detector.alert_started_at == at:
            directions.append((at, assessment.direction, assessment.value, assessment.baseline))
    assert len(directions) == 1, directions
    at, direction, value, baseline = directions[0]
    assert outage.start < at <= outage.start + 5 * 60
    assert (direction, value) == (-1, 0.0)
    assert baseline > 5  # a busy afternoon's normal, per minute
