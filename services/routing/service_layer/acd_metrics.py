"""OTel metrics of the ACD, computed from an instance's mirror of the shared state.

    routing.queue.depth            gauge   contacts waiting, per tenant and queue
    routing.queue.longest_wait     gauge   seconds the oldest waiting contact has waited
    routing.agent.occupancy        gauge   share of routable agents' capacity in use, per tenant
    routing.offers                 counter offers per outcome (offered, accepted, declined, timeout, offline)

Each instance reports what its mirror sees; since every instance sees the whole region, use
one instance's series (or `max`) for the gauges, and `sum` for the counter.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable

from opentelemetry import metrics

from ccmesh import telemetry
from routing.adapters.acd_store import KeyMirror
from routing.domain.agents import AgentState, occupancy
from routing.domain.contacts import ContactStatus


def queue_depths(mirror: KeyMirror, now: float) -> dict[tuple[str, str], tuple[int, float]]:
    """(tenant, queue) -> (waiting contacts, longest wait in seconds)."""
    result: dict[tuple[str, str], tuple[int, float]] = defaultdict(lambda: (0, 0.0))
    for (tenant, _), record in list(mirror.contacts.items()):
        if record.status is ContactStatus.WAITING:
            depth, longest = result[(tenant, record.contact.queue)]
            result[(tenant, record.contact.queue)] = (
                depth + 1,
                max(longest, now - record.contact.enqueued_at),
            )
    return dict(result)


class AcdMetrics:
    def __init__(
        self, mirror: KeyMirror, meter: metrics.Meter | None = None, clock: Callable[[], float] = time.time
    ):
        meter = meter or telemetry.meter()
        self._mirror = mirror
        self._clock = clock
        self.offers = meter.create_counter("routing.offers", unit="{offer}", description="Offers per outcome")
        meter.create_observable_gauge(
            "routing.queue.depth", [self._depth], unit="{contact}", description="Contacts waiting per queue"
        )
        meter.create_observable_gauge(
            "routing.queue.longest_wait",
            [self._longest],
            unit="s",
            description="Longest current wait per queue",
        )
        meter.create_observable_gauge(
            "routing.agent.occupancy",
            [self._occupancy],
            unit="1",
            description="Capacity in use, routable agents",
        )

    def outcome(self, kind: str, tenant: str, queue: str) -> None:
        self.offers.add(1, {"tenant": tenant, "queue": queue, "outcome": kind})

    def _depth(self, options: metrics.CallbackOptions) -> Iterable[metrics.Observation]:
        for (tenant, queue), (depth, _) in queue_depths(self._mirror, self._clock()).items():
            yield metrics.Observation(depth, {"tenant": tenant, "queue": queue})

    def _longest(self, options: metrics.CallbackOptions) -> Iterable[metrics.Observation]:
        for (tenant, queue), (_, longest) in queue_depths(self._mirror, self._clock()).items():
            yield metrics.Observation(longest, {"tenant": tenant, "queue": queue})

    def _occupancy(self, options: metrics.CallbackOptions) -> Iterable[metrics.Observation]:
        used: dict[str, list[float]] = defaultdict(list)
        for (tenant, _), ledger in list(self._mirror.agents.items()):
            if ledger.state in (AgentState.AVAILABLE, AgentState.BUSY):
                used[tenant].append(occupancy(ledger.profile, ledger.load()))
        for tenant, values in used.items():
            yield metrics.Observation(sum(values) / len(values), {"tenant": tenant})
