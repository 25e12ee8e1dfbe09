"""Prediction under surge (pure): the wait a new arrival is told from its place in the queue, and
the staffing answer "N agents reach the target", both abandonment-aware (Erlang A)."""

from __future__ import annotations

import math

import pytest

from routing.domain.erlang_a import (
    MAX_STAFFING,
    agents_for_target,
    answered_in_time_at_position,
    erlang_a,
    wait_at_position,
)
from routing.domain.erlang_c import QueueParameterError, forecast


def test_the_wait_at_a_place_in_the_queue_adds_up_its_steps_forward() -> None:
    # Three agents of 300 s free one every 100 s; from place 2 someone ahead may also give up
    # (patience 180 s): 1 / (3/300 + 1/180) seconds more.
    assert wait_at_position(1, 3, 300.0, 180.0) == pytest.approx(100.0)
    assert wait_at_position(2, 3, 300.0, 180.0) == pytest.approx(100.0 + 1 / (3 / 300 + 1 / 180))
    # Customers who never give up: place m waits m agent releases.
    assert wait_at_position(10, 3, 300.0, 1e12) == pytest.approx(1000.0)
    # Giving up ahead shortens a long queue's wait well below that.
    assert wait_at_position(50, 3, 300.0, 180.0) < 0.2 * wait_at_position(50, 3, 300.0, 1e12)
    assert wait_at_position(1, 0, 300.0, 180.0) == math.inf
    with pytest.raises(QueueParameterError, match="position"):
        wait_at_position(0, 3, 300.0, 180.0)


def test_the_chance_of_an_answer_in_time_from_a_place_in_the_queue() -> None:
    # Next in line: an agent frees up (rate 3/300) before the customer gives up (1/180), within
    # 20 s: the race's odds times the chance that either happens in time.
    first = 3 / 300 + 1 / 180
    expected = (3 / 300) / first * (1 - math.exp(-first * 20))
    assert answered_in_time_at_position(1, 3, 300.0, 180.0, 20.0) == pytest.approx(expected, rel=1e-6)
    # Patient customers: Erlang C's chance that an agent frees up in time.
    assert answered_in_time_at_position(1, 3, 300.0, 1e12, 20.0) == pytest.approx(
        1 - math.exp(-0.2), rel=1e-6
    )
    # Deeper in a surge's backlog the chance falls; without agents there is none.
    places = [answered_in_time_at_position(m, 3, 300.0, 180.0, 60.0) for m in (1, 2, 5, 10)]
    assert places == sorted(places, reverse=True) and places[-1] < 0.01
    assert answered_in_time_at_position(1, 0, 300.0, 180.0, 20.0) == 0.0


def test_the_staffing_answer_is_the_fewest_agents_that_reach_the_target() -> None:
    answer = agents_for_target(100.0, 300.0, 20.0, 0.8, 180.0)
    assert answer.reachable
    assert erlang_a(100.0, 300.0, answer.agents, 20.0, 180.0).service_level >= 0.8
    assert erlang_a(100.0, 300.0, answer.agents - 1, 20.0, 180.0).service_level < 0.8
    assert answer.service_level == pytest.approx(
        erlang_a(100.0, 300.0, answer.agents, 20.0, 180.0).service_level
    )


def test_with_patient_customers_the_answer_is_erlang_cs() -> None:
    answer = agents_for_target(100.0, 300.0, 20.0, 0.8, 1e9)
    fewest = next(n for n in range(1, 100) if forecast(100.0, 300.0, n, 20.0).service_level >= 0.8)
    assert answer.agents == fewest


def test_a_surge_needs_more_agents_and_no_arrivals_need_none() -> None:
    calm = agents_for_target(60.0, 300.0, 20.0, 0.8, 180.0).agents
    surge = agents_for_target(600.0, 300.0, 20.0, 0.8, 180.0).agents
    assert surge > 5 * calm
    assert agents_for_target(0.0, 300.0, 20.0, 0.8, 180.0).agents == 0


def test_a_target_no_staffing_reaches_says_so() -> None:
    # 100,000 contacts an hour of 5 minutes each: 8,333 agents' work, beyond any answer's reach.
    answer = agents_for_target(100_000.0, 300.0, 20.0, 0.8, 180.0)
    assert not answer.reachable and answer.agents == MAX_STAFFING and answer.service_level < 0.8


@pytest.mark.parametrize("fraction", [0.0, 1.5])
def test_a_target_fraction_outside_0_to_1_is_refused_by_name(fraction: float) -> None:
    with pytest.raises(QueueParameterError, match="answered_fraction"):
        agents_for_target(100.0, 300.0, 20.0, fraction, 180.0)
