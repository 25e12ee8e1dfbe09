"""Erlang A (M/M/c+M) against Erlang C in its limit and against a discrete-event simulation."""

import heapq
import random

import pytest

from routing.domain.erlang_a import erlang_a
from routing.domain.erlang_c import QueueParameterError, forecast

ARRIVALS_PER_HOUR = 200.0
HANDLE_SECONDS = 180.0
TARGET_SECONDS = 20.0


@pytest.mark.parametrize("agents", [11, 12, 14, 17])
def test_with_endless_patience_it_is_erlang_c(agents: int) -> None:
    c = forecast(ARRIVALS_PER_HOUR, HANDLE_SECONDS, agents, TARGET_SECONDS)
    a = erlang_a(ARRIVALS_PER_HOUR, HANDLE_SECONDS, agents, TARGET_SECONDS, average_patience_seconds=1e9)
    assert a.probability_of_waiting == pytest.approx(c.probability_of_waiting, abs=1e-4)
    assert a.service_level == pytest.approx(c.service_level, abs=1e-4)
    assert a.average_wait_seconds == pytest.approx(c.average_wait_seconds, rel=1e-3)
    assert a.probability_of_abandoning < 1e-4


def simulate(agents: int, patience: float, seed: int, contacts: int = 60_000) -> tuple[float, float, float]:
    """(answered within target, abandoned, average wait) of a FIFO M/M/c+M queue.

    Each arrival's wait, if nobody gave up ahead, is when the earliest agent frees; with
    abandonment, a contact whose patience ends first leaves and does not take that agent, so
    agents are assigned in arrival order only to contacts still there.
    """
    rng = random.Random(seed)
    free_at = [0.0] * agents
    now = 0.0
    in_time = abandoned = 0
    total_wait = 0.0
    warm_up = 2_000
    for i in range(contacts):
        now += rng.expovariate(ARRIVALS_PER_HOUR / 3600.0)
        give_up = rng.expovariate(1.0 / patience)
        earliest = free_at[0]
        start = max(now, earliest)
        if start - now > give_up:
            wait, answered = give_up, False
        else:
            heapq.heapreplace(free_at, start + rng.expovariate(1.0 / HANDLE_SECONDS))
            wait, answered = start - now, True
        if i >= warm_up:
            total_wait += wait
            abandoned += not answered
            in_time += answered and wait <= TARGET_SECONDS
    measured = contacts - warm_up
    return in_time / measured, abandoned / measured, total_wait / measured


@pytest.mark.parametrize(("agents", "patience"), [(9, 60.0), (10, 120.0), (12, 300.0)])
def test_agrees_with_a_simulation_of_the_same_queue(agents: int, patience: float) -> None:
    predicted = erlang_a(ARRIVALS_PER_HOUR, HANDLE_SECONDS, agents, TARGET_SECONDS, patience)
    level, abandoned, wait = simulate(agents, patience, seed=agents)
    assert level == pytest.approx(predicted.service_level, abs=0.03)
    assert abandoned == pytest.approx(predicted.probability_of_abandoning, abs=0.02)
    assert wait == pytest.approx(predicted.average_wait_seconds, rel=0.15, abs=1.0)


def test_an_overloaded_queue_stays_finite_where_erlang_c_gives_up() -> None:
    # 10 erlangs on 8 agents: Erlang C has no steady state; with 90 s patience the queue settles.
    c = forecast(200.0, 180.0, 8, 20.0)
    a = erlang_a(200.0, 180.0, 8, 20.0, 90.0)
    assert c.service_level == 0.0
    assert 0.0 < a.service_level < 1.0
    assert 0.1 < a.probability_of_abandoning < 0.5
    assert a.average_wait_seconds < 90.0


def test_simulation_tells_staffing_levels_apart() -> None:
    # Guards the comparison above: one agent fewer is measurably worse than its tolerance.
    nine, _, _ = simulate(9, 120.0, seed=1)
    eleven, _, _ = simulate(11, 120.0, seed=1)
    assert eleven - nine > 0.1


def test_no_arrivals_and_bad_input() -> None:
    assert erlang_a(0, 180, 3, 20, 60).service_level == 1.0
    with pytest.raises(QueueParameterError, match="average_patience_seconds"):
        erlang_a(100, 180, 3, 20, 0)
    with pytest.raises(QueueParameterError, match="average_handle_seconds"):
        erlang_a(100, 0, 3, 20, 60)
