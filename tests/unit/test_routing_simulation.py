"""Erlang C against a discrete-event simulation of the queue it models.

M/M/c with FIFO: Poisson arrivals, exponential handle times, `agents` identical servers. A
FIFO queue in front of identical servers hands each contact, in arrival order, to the agent
who frees up first, so one heap of "agent free at" times is the whole simulation.
"""

from __future__ import annotations

import heapq
import random

import pytest

from routing.domain.erlang_c import forecast

ARRIVALS_PER_HOUR = 200.0
HANDLE_SECONDS = 180.0
TARGET_SECONDS = 20.0
CONTACTS = 200_000
#: Contacts ignored at the start, while the empty system fills up to its steady state.
WARM_UP = 5_000


def simulated_service_level(agents: int, seed: int) -> tuple[float, float]:
    """(fraction answered within the target, average wait) over CONTACTS simulated arrivals."""
    rng = random.Random(seed)
    arrival_rate = ARRIVALS_PER_HOUR / 3600.0
    free_at = [0.0] * agents
    now = 0.0
    answered_in_time = 0
    total_wait = 0.0
    for index in range(CONTACTS):
        now += rng.expovariate(arrival_rate)
        earliest = heapq.heappop(free_at)
        start = max(now, earliest)
        heapq.heappush(free_at, start + rng.expovariate(1.0 / HANDLE_SECONDS))
        if index >= WARM_UP:
            wait = start - now
            total_wait += wait
            answered_in_time += wait <= TARGET_SECONDS
    measured = CONTACTS - WARM_UP
    return answered_in_time / measured, total_wait / measured


@pytest.mark.parametrize("agents", [12, 14, 17])
def test_simulated_service_level_is_within_3_points_of_the_forecast(agents: int) -> None:
    predicted = forecast(ARRIVALS_PER_HOUR, HANDLE_SECONDS, agents, TARGET_SECONDS)
    measured, _ = simulated_service_level(agents, seed=agents)
    assert measured == pytest.approx(predicted.service_level, abs=0.03)


def test_simulation_distinguishes_staffing_levels() -> None:
    # Guards the test above: one agent fewer must be measurably worse than the 3-point band.
    twelve, _ = simulated_service_level(12, seed=1)
    fourteen, _ = simulated_service_level(14, seed=1)
    assert fourteen - twelve > 0.2


def test_simulated_average_wait_agrees_with_the_forecast() -> None:
    predicted = forecast(ARRIVALS_PER_HOUR, HANDLE_SECONDS, 14, TARGET_SECONDS)
    _, average_wait = simulated_service_level(14, seed=7)
    # 7.8 s predicted; waits are heavy-tailed, so the band is wider than for the service level.
    assert average_wait == pytest.approx(predicted.average_wait_seconds, rel=0.2)
