"""Erlang C against published values and an exact reference, and its input checks."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest

from routing.domain.erlang_c import QueueParameterError, erlang_b, erlang_c, forecast


def exact_erlang_c(traffic: Fraction, agents: int) -> Fraction:
    """The textbook closed form, in exact rationals: an independent reference for any size."""
    waiting_term = traffic**agents / math.factorial(agents) * Fraction(agents) / (agents - traffic)
    not_waiting = sum(traffic**k / math.factorial(k) for k in range(agents))
    return waiting_term / (not_waiting + waiting_term)


def test_the_classic_example_10_erlangs_14_agents() -> None:
    # 200 calls an hour at 180 s average handle time, 14 agents, 20 s target
    # (the worked example of callcentrehelper.com's "Erlang C formula - made simple").
    result = forecast(200, 180, 14, 20)
    assert result.traffic_erlangs == pytest.approx(10.0)
    assert result.probability_of_waiting == pytest.approx(0.1741, abs=5e-5)
    assert result.service_level == pytest.approx(0.888, abs=5e-4)
    assert result.average_wait_seconds == pytest.approx(7.8, abs=0.05)
    assert result.occupancy == pytest.approx(10 / 14)


@pytest.mark.parametrize(
    ("agents", "waiting", "service_level", "average_wait"),
    [
        # The staffing table of the same example (10 Erlangs, AHT 180 s, target 20 s): the
        # published average speeds of answer, with P(wait) and service level to four places.
        (11, 0.6821, 0.3897, 122.8),
        (12, 0.4494, 0.6401, 40.4),
        (13, 0.2853, 0.7956, 17.1),
        (14, 0.1741, 0.8884, 7.8),
    ],
)
def test_staffing_table_for_10_erlangs(
    agents: int, waiting: float, service_level: float, average_wait: float
) -> None:
    result = forecast(200, 180, agents, 20)
    assert result.probability_of_waiting == pytest.approx(waiting, abs=5e-5)
    assert result.service_level == pytest.approx(service_level, abs=5e-4)
    assert result.average_wait_seconds == pytest.approx(average_wait, abs=0.05)


def test_westbay_step_by_step_example() -> None:
    # Westbay Engineers' "The Erlang-C formula": 360 calls per half hour, 4 minutes each,
    # 55 agents, 15 s target: 48 Erlangs, occupancy 87.3 %, P(wait) 0.2387, ASA 8.2 s, SL 84.6 %.
    result = forecast(720, 240, 55, 15)
    assert result.traffic_erlangs == pytest.approx(48.0)
    assert result.occupancy == pytest.approx(0.873, abs=5e-4)
    assert result.probability_of_waiting == pytest.approx(0.2387, abs=5e-5)
    assert result.average_wait_seconds == pytest.approx(8.2, abs=0.05)
    assert result.service_level == pytest.approx(0.846, abs=5e-4)


@pytest.mark.parametrize(
    ("traffic", "agents", "expected"),
    [
        # Textbook values that follow directly from the formula.
        (Fraction(2), 3, Fraction(4, 9)),
        (Fraction(1), 2, Fraction(1, 3)),
        (Fraction(1, 2), 1, Fraction(1, 2)),  # M/M/1: the chance to wait is the utilisation
        (Fraction(9, 10), 1, Fraction(9, 10)),
    ],
)
def test_exact_textbook_values(traffic: Fraction, agents: int, expected: Fraction) -> None:
    assert exact_erlang_c(traffic, agents) == expected
    assert erlang_c(float(traffic), agents) == pytest.approx(float(expected), rel=1e-12)


@pytest.mark.parametrize(
    ("traffic", "agents"),
    [(0.5, 1), (3.3, 5), (20, 25), (50, 55), (100, 110), (230.5, 250), (480, 500), (999, 1000)],
)
def test_matches_the_exact_closed_form_from_one_to_a_thousand_agents(traffic: float, agents: int) -> None:
    # A factorial formula in floats overflows long before 500 agents; the recursion must not drift.
    expected = float(exact_erlang_c(Fraction(traffic), agents))
    assert erlang_c(traffic, agents) == pytest.approx(expected, rel=1e-9)


def test_mm1_service_level_and_average_wait_follow_the_closed_form() -> None:
    # 30 contacts an hour at 60 s: 0.5 Erlang on one agent.
    result = forecast(30, 60, 1, 45)
    assert result.probability_of_waiting == pytest.approx(0.5)
    # Wq = rho / (mu - lambda) = 0.5 * 60 / 0.5
    assert result.average_wait_seconds == pytest.approx(60.0)
    assert result.service_level == pytest.approx(1 - 0.5 * math.exp(-0.5 * 45 / 60))


def test_erlang_b_textbook_value() -> None:
    # B(2, 3) = (8/6) / (1 + 2 + 2 + 8/6) = 4/19
    assert erlang_b(2.0, 3) == pytest.approx(4 / 19)


def test_more_agents_never_lower_the_service_level() -> None:
    levels = [forecast(200, 180, agents, 20).service_level for agents in range(11, 30)]
    assert levels == sorted(levels)
    assert levels[-1] == pytest.approx(1.0, abs=1e-6)


def test_zero_target_service_level_is_the_chance_of_not_waiting() -> None:
    result = forecast(200, 180, 14, 0)
    assert result.service_level == pytest.approx(1 - result.probability_of_waiting)


@pytest.mark.parametrize("agents", [0, 5, 9, 10])
def test_unstable_queue_answers_nobody_in_time(agents: int) -> None:
    # 10 Erlangs offered to at most 10 agents: the queue grows without bound.
    result = forecast(200, 180, agents, 20)
    assert result.service_level == 0.0
    assert result.probability_of_waiting == 1.0
    assert result.average_wait_seconds == math.inf
    assert result.occupancy == 1.0


def test_no_traffic_is_perfect_service() -> None:
    for agents in (0, 3):
        result = forecast(0, 180, agents, 20)
        assert (result.traffic_erlangs, result.probability_of_waiting) == (0.0, 0.0)
        assert (result.service_level, result.average_wait_seconds) == (1.0, 0.0)


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ((-1, 180, 14, 20), "arrivals_per_hour"),
        ((math.nan, 180, 14, 20), "arrivals_per_hour"),
        ((math.inf, 180, 14, 20), "arrivals_per_hour"),
        ((200, 0, 14, 20), "average_handle_seconds"),
        ((200, -180, 14, 20), "average_handle_seconds"),
        ((200, math.nan, 14, 20), "average_handle_seconds"),
        ((200, math.inf, 14, 20), "average_handle_seconds"),
        ((200, 180, -1, 20), "agents"),
        ((200, 180, 14, -1), "target_answer_seconds"),
        ((200, 180, 14, math.nan), "target_answer_seconds"),
        ((200, 180, 14, math.inf), "target_answer_seconds"),
    ],
)
def test_bad_parameters_raise_naming_the_field(
    arguments: tuple[float, float, int, float], field: str
) -> None:
    with pytest.raises(QueueParameterError) as caught:
        forecast(*arguments)
    assert str(caught.value).startswith(field)
