"""Erlang C: waiting probability, service level and average wait for an M/M/c queue.

Written out rather than imported: the formula is a dozen lines, while `pyworkforce` pulls in
ortools, pandas and scipy. The Erlang B recursion keeps it numerically stable for hundreds
of agents (no factorials), and tests check it against published Erlang C tables and a
discrete-event simulation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


class QueueParameterError(ValueError):
    """The queue parameters cannot describe a real queue; the message names the field."""


@dataclass(frozen=True)
class ServiceLevelForecast:
    traffic_erlangs: float
    probability_of_waiting: float
    service_level: float
    average_wait_seconds: float
    occupancy: float


def erlang_b(traffic: float, agents: int) -> float:
    """Blocking probability of an M/M/c/c system, by the stable recursion B(n) = A·B(n-1)/(n + A·B(n-1))."""
    blocking = 1.0
    for n in range(1, agents + 1):
        blocking = traffic * blocking / (n + traffic * blocking)
    return blocking


def erlang_c(traffic: float, agents: int) -> float:
    """Probability that an arriving contact has to wait (agents busy), for traffic < agents."""
    if traffic <= 0:
        return 0.0
    if traffic >= agents:
        return 1.0
    blocking = erlang_b(traffic, agents)
    return agents * blocking / (agents - traffic * (1 - blocking))


def forecast(
    arrivals_per_hour: float, average_handle_seconds: float, agents: int, target_answer_seconds: float
) -> ServiceLevelForecast:
    if arrivals_per_hour < 0 or not math.isfinite(arrivals_per_hour):
        raise QueueParameterError(f"arrivals_per_hour must be a finite number >= 0, got {arrivals_per_hour}")
    if average_handle_seconds <= 0 or not math.isfinite(average_handle_seconds):
        raise QueueParameterError(f"average_handle_seconds must be > 0, got {average_handle_seconds}")
    if agents < 0:
        raise QueueParameterError(f"agents must be >= 0, got {agents}")
    if target_answer_seconds < 0 or not math.isfinite(target_answer_seconds):
        raise QueueParameterError(f"target_answer_seconds must be >= 0, got {target_answer_seconds}")
    traffic = arrivals_per_hour * average_handle_seconds / 3600.0
    if agents == 0 or traffic >= agents:
        # An unstable queue grows without bound: nobody is answered within any target.
        busy = traffic > 0
        return ServiceLevelForecast(
            traffic,
            1.0 if busy else 0.0,
            0.0 if busy else 1.0,
            math.inf if busy else 0.0,
            1.0 if busy else 0.0,
        )
    waiting = erlang_c(traffic, agents)
    service_level = 1.0 - waiting * math.exp(
        -(agents - traffic) * target_answer_seconds / average_handle_seconds
    )
    average_wait = waiting * average_handle_seconds / (agents - traffic)
    return ServiceLevelForecast(traffic, waiting, max(0.0, service_level), average_wait, traffic / agents)
