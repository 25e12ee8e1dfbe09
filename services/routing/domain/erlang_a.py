"""Erlang A: the M/M/c+M queue, where waiting customers give up (abandon) (pure).

Erlang C assumes nobody hangs up, so on a busy queue it predicts an unbounded wait while in
reality customers leave and the queue stays finite: after a burst it keeps saying
"overloaded" long after those customers have gone. Erlang A adds patience: each waiting
contact abandons at rate theta = 1 / average patience. For chats and messages "abandoning"
is the customer closing the conversation; the same model serves every channel.

The number of contacts in the system is a birth-death chain: arrivals at rate lambda, and in
state n, departures at min(n, c)·mu (answered and handled) plus max(n - c, 0)·theta (given up).
Its stationary distribution gives, by PASTA and Little's law:

- probability of waiting: P(n >= c) at an arrival;
- average wait (answered or not): E[queue length] / lambda;
- probability of abandoning: theta · E[queue length] / lambda.

The service level is the share of arrivals answered within the target. An arrival that finds
k contacts waiting stands at position k + 1; it moves up at rate c·mu + (position - 1)·theta
(an agent frees up or someone ahead gives up) and gives up itself at rate theta. The chance of
reaching an agent within t from each position is computed exactly by uniformization of that
small chain (a sum of Poisson-weighted steps of a bidiagonal matrix), with numpy.

With theta -> 0 every figure tends to Erlang C's (`erlang_c.forecast`); tests check that, a
table of published Erlang A values would have to come from a tool we cannot cite here, so a
discrete-event simulation of the same queue is the second check.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from routing.domain.erlang_c import QueueParameterError

#: States beyond which the stationary probabilities are below this are dropped.
_TAIL = 1e-12
#: Hard limit on the contacts-in-system states considered (a queue this deep is a fault).
_MAX_STATES = 20_000
#: Uniformization steps allowed (a target of a day on a large queue); beyond: the last value.
_MAX_STEPS = 200_000


@dataclass(frozen=True)
class AbandonmentForecast:
    traffic_erlangs: float
    probability_of_waiting: float
    probability_of_abandoning: float
    #: Share of arrivals answered within the target (abandoned ones count as missed).
    service_level: float
    #: Average time in queue of all arrivals (until answered or given up), seconds.
    average_wait_seconds: float
    #: Share of the agents' time spent handling contacts.
    occupancy: float


def _check(arrivals_per_hour: float, handle: float, agents: int, target: float, patience: float) -> None:
    if arrivals_per_hour < 0 or not math.isfinite(arrivals_per_hour):
        raise QueueParameterError(f"arrivals_per_hour must be a finite number >= 0, got {arrivals_per_hour}")
    if handle <= 0 or not math.isfinite(handle):
        raise QueueParameterError(f"average_handle_seconds must be > 0, got {handle}")
    if agents < 0:
        raise QueueParameterError(f"agents must be >= 0, got {agents}")
    if target < 0 or not math.isfinite(target):
        raise QueueParameterError(f"target_answer_seconds must be >= 0, got {target}")
    if not patience > 0:
        raise QueueParameterError(f"average_patience_seconds must be > 0, got {patience}")


def _stationary(arrival: float, service: float, abandon: float, agents: int) -> np.ndarray:
    """P(n contacts in the system), n = 0, 1, ... until the tail is negligible."""
    weights = [1.0]
    peak = 1.0
    n = 0
    while n < _MAX_STATES:
        n += 1
        death = min(n, agents) * service + max(n - agents, 0) * abandon
        weight = weights[-1] * arrival / death
        weights.append(weight)
        peak = max(peak, weight)
        if n > agents and weight < _TAIL * peak:
            break
        if peak > 1e250:  # rescale before the floats overflow (very large queues)
            weights = [w / peak for w in weights]
            peak = 1.0
    p = np.asarray(weights)
    normalized: np.ndarray = p / p.sum()
    return normalized


def _answered_within(
    agents: int, service: float, abandon: float, target: float, positions: int
) -> np.ndarray:
    """P(answered within `target` | arriving at queue position m), m = 1..positions."""
    if positions == 0:
        return np.zeros(0)
    m = np.arange(1, positions + 1, dtype=float)
    advance = agents * service + (m - 1) * abandon  # next position up (or an agent, from 1)
    rate = float(advance[-1] + abandon)  # the uniformization rate: the fastest state's
    if target == 0 or rate == 0:
        return np.zeros(positions)
    up = advance / rate
    stay = 1.0 - (advance + abandon) / rate
    mean = rate * target
    steps = min(_MAX_STEPS, int(mean + 12 * math.sqrt(mean) + 30))
    # v[k][m]: P(answered within k uniformized steps | position m); position 0 is "answered".
    v = np.zeros(positions)
    weight = math.exp(-mean) if mean < 700 else 0.0
    log_weight = -mean  # Poisson weights in logs when exp(-mean) underflows
    total = np.zeros(positions)
    for k in range(steps + 1):
        if k:
            shifted = np.empty(positions)
            shifted[0] = 1.0
            shifted[1:] = v[:-1]
            v = up * shifted + stay * v
            log_weight += math.log(mean / k)
            weight = math.exp(log_weight)
        total += weight * v
    return np.clip(total, 0.0, 1.0)


def erlang_a(
    arrivals_per_hour: float,
    average_handle_seconds: float,
    agents: int,
    target_answer_seconds: float,
    average_patience_seconds: float,
) -> AbandonmentForecast:
    """The M/M/c+M forecast; `average_patience_seconds` is how long a waiting customer stays."""
    _check(arrivals_per_hour, average_handle_seconds, agents, target_answer_seconds, average_patience_seconds)
    arrival = arrivals_per_hour / 3600.0
    service = 1.0 / average_handle_seconds
    abandon = 1.0 / average_patience_seconds
    traffic = arrival / service
    if arrival == 0:
        return AbandonmentForecast(0.0, 0.0, 0.0, 1.0, 0.0, 0.0)
    p = _stationary(arrival, service, abandon, agents)
    n = np.arange(len(p))
    queued = np.maximum(n - agents, 0)
    waiting = float(p[agents:].sum()) if len(p) > agents else 0.0
    queue_length = float((queued * p).sum())
    abandoning = min(1.0, abandon * queue_length / arrival)
    within = _answered_within(agents, service, abandon, target_answer_seconds, max(0, len(p) - agents))
    answered_in_time = float(p[:agents].sum()) + float((p[agents:] * within).sum())
    busy = float((np.minimum(n, agents) * p).sum())
    return AbandonmentForecast(
        traffic_erlangs=traffic,
        probability_of_waiting=waiting,
        probability_of_abandoning=abandoning,
        service_level=min(1.0, answered_in_time),
        average_wait_seconds=queue_length / arrival,
        occupancy=busy / agents if agents else 0.0,
    )


def wait_at_position(
    position: int, agents: int, average_handle_seconds: float, average_patience_seconds: float
) -> float:
    """Expected seconds until an agent answers a contact standing at `position` (1: next) in a
    queue whose agents are all busy, if it stays; inf when no agent staffs the queue.

    At position j it moves up when an agent frees up (rate agents/handle) or one of the j - 1
    ahead gives up (rate (j - 1)/patience): the wait is the sum of those expected steps. Under a
    surge this is what a new arrival can be told, where the stationary average of `erlang_a`
    describes a queue that has settled.
    """
    if position < 1:
        raise QueueParameterError(f"position must be >= 1, got {position}")
    _check(0.0, average_handle_seconds, agents, 0.0, average_patience_seconds)
    if agents == 0:
        return math.inf
    service = agents / average_handle_seconds
    abandon = 1.0 / average_patience_seconds
    ahead = np.arange(position, dtype=float)
    return float((1.0 / (service + ahead * abandon)).sum())


def answered_in_time_at_position(
    position: int,
    agents: int,
    average_handle_seconds: float,
    average_patience_seconds: float,
    target_answer_seconds: float,
) -> float:
    """The chance that a contact standing at `position` of a queue whose agents are all busy is
    answered within `target_answer_seconds` (it may give up first): the service level a contact
    arriving now behind a surge's backlog can expect, where `erlang_a` gives the settled queue's."""
    if position < 1:
        raise QueueParameterError(f"position must be >= 1, got {position}")
    _check(0.0, average_handle_seconds, agents, target_answer_seconds, average_patience_seconds)
    service, abandon = 1.0 / average_handle_seconds, 1.0 / average_patience_seconds
    within = _answered_within(agents, service, abandon, target_answer_seconds, position)
    return float(within[position - 1])


@dataclass(frozen=True)
class StaffingAnswer:
    """The agents that reach a service-level target under Erlang A."""

    agents: int
    #: False: even `agents` (the most tried) do not reach it.
    reachable: bool
    #: The service level those agents give.
    service_level: float


#: The most agents a staffing answer considers for one queue.
MAX_STAFFING = 2000


def agents_for_target(
    arrivals_per_hour: float,
    average_handle_seconds: float,
    target_answer_seconds: float,
    answered_fraction: float,
    average_patience_seconds: float,
) -> StaffingAnswer:
    """The fewest agents whose Erlang A service level reaches `answered_fraction` within
    `target_answer_seconds` (the service level grows with every agent, so a bisection finds it)."""
    _check(arrivals_per_hour, average_handle_seconds, 0, target_answer_seconds, average_patience_seconds)
    if not 0 < answered_fraction <= 1:
        raise QueueParameterError(f"answered_fraction must be in (0, 1], got {answered_fraction}")

    def level(agents: int) -> float:
        return erlang_a(
            arrivals_per_hour, average_handle_seconds, agents, target_answer_seconds, average_patience_seconds
        ).service_level

    traffic = arrivals_per_hour * average_handle_seconds / 3600.0
    high = min(MAX_STAFFING, max(1, math.ceil(2 * traffic + 10)))
    high_level = level(high)
    while high_level < answered_fraction and high < MAX_STAFFING:
        high = min(MAX_STAFFING, 2 * high)
        high_level = level(high)
    if high_level < answered_fraction:
        return StaffingAnswer(high, False, high_level)
    low = -1  # a count known to fall short (none: -1)
    while high - low > 1:
        middle = (low + high) // 2
        middle_level = level(middle)
        if middle_level >= answered_fraction:
            high, high_level = middle, middle_level
        else:
            low = middle
    return StaffingAnswer(high, True, high_level)
