"""OTel metrics of the ACD, computed from an instance's mirror of the shared state.

    contactcenter.queue.depth          gauge   contacts waiting, per tenant and queue
    contactcenter.queue.longest_wait   gauge   seconds the oldest waiting contact has waited
    contactcenter.agent.occupancy      gauge   share of routable agents' capacity in use, per tenant
    contactcenter.agents               gauge   agents per tenant and state
    contactcenter.queue.service_level  gauge   measured service level (0..1) over the last hour against
                                               the queue's target for the channel, per tenant, queue,
                                               channel (no point while no contact of the hour has an
                                               outcome)
    contactcenter.offers               counter changes per tenant, queue, channel and outcome (queued,
                                               offered, accepted, declined, timeout, offline, overflow,
                                               overflow_region, transferred, withdrawn, abandoned,
                                               closed)
    contactcenter.contacts             counter contacts that left routing per tenant, queue, channel and
                                               outcome: completed (an agent finished it), abandoned
                                               (closed while waiting or offered), turned_away (queue closed),
                                               handed_over (to another region's queue)

Each instance reports what its mirror sees; since every instance sees the whole region, use
one instance's series (or `max`) for the gauges, and `sum` for the counter.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable

from opentelemetry import metrics

from ccmesh import telemetry
from ccmesh.channels import Channel
from routing.adapters.acd_store import KeyMirror
from routing.domain.agents import AgentState, occupancy
from routing.domain.contacts import ContactRecord
from routing.domain.events import (
    ContactAbandoned,
    ContactCompleted,
    ContactHandedOver,
    ContactTurnedAway,
    OfferWithdrawn,
    RoutingEvent,
)
from routing.domain.service_level import measure
from routing.service_layer.acd_stats import service_samples

#: Routing changes that end a contact's time in routing -> its outcome on `contactcenter.contacts`.
CONTACT_OUTCOMES = {
    ContactCompleted.outcome: "completed",
    OfferWithdrawn.outcome: "abandoned",
    ContactAbandoned.outcome: "abandoned",
    ContactTurnedAway.outcome: "turned_away",
    ContactHandedOver.outcome: "handed_over",
}
#: How far back the service-level gauge looks.
SERVICE_LEVEL_WINDOW_SECONDS = 3600.0


def queue_depths(mirror: KeyMirror, now: float) -> dict[tuple[str, str], tuple[int, float]]:
    """(tenant, queue) -> (waiting contacts, longest wait in seconds); (0, 0.0) for a configured
    queue nobody waits in, so an empty queue reads as zero rather than as no data."""
    depths: dict[tuple[str, str], tuple[int, float]] = dict.fromkeys(list(mirror.queues), (0, 0.0))
    for key, waiting in list(mirror.waiting.items()):
        if waiting:
            depths[key] = (len(waiting), max(now - r.contact.enqueued_at for r in waiting.values()))
    return depths


def service_levels(
    mirror: KeyMirror, now: float, window_seconds: float = SERVICE_LEVEL_WINDOW_SECONDS
) -> dict[tuple[str, str, str], float]:
    """(tenant, queue, channel) -> measured service level against that channel's target."""
    by_key: dict[tuple[str, str, Channel], list[ContactRecord]] = defaultdict(list)
    for tenant, queue_name in {*mirror.live, *mirror.recent}:
        for record in mirror.queue_records(tenant, queue_name):
            if record.contact.enqueued_at >= now - window_seconds:
                by_key[(tenant, queue_name, record.contact.channel)].append(record)
    levels: dict[tuple[str, str, str], float] = {}
    for (tenant, queue_name, channel), records in by_key.items():
        queue = mirror.queues.get((tenant, queue_name))
        if queue is None:
            continue
        target = queue.target_for(channel)
        level = measure(service_samples(records), target.within_seconds, now, window_seconds).level
        if level is not None:
            levels[(tenant, queue_name, channel.value)] = level
    return levels


class AcdMetrics:
    def __init__(
        self, mirror: KeyMirror, meter: metrics.Meter | None = None, clock: Callable[[], float] = time.time
    ):
        meter = meter or telemetry.meter()
        self._mirror = mirror
        self._clock = clock
        self.offers = meter.create_counter(
            "contactcenter.offers", unit="{change}", description="Routing changes per outcome"
        )
        self.contacts = meter.create_counter(
            "contactcenter.contacts",
            unit="{contact}",
            description="Contacts that left routing, per channel and outcome",
        )
        meter.create_observable_gauge(
            "contactcenter.queue.depth",
            [self._depth],
            unit="{contact}",
            description="Contacts waiting per queue",
        )
        meter.create_observable_gauge(
            "contactcenter.queue.longest_wait",
            [self._longest],
            unit="s",
            description="Longest current wait per queue",
        )
        meter.create_observable_gauge(
            "contactcenter.queue.service_level",
            [self._service_level],
            unit="1",
            description="Measured service level over the last hour, per queue and channel",
        )
        meter.create_observable_gauge(
            "contactcenter.agent.occupancy",
            [self._occupancy],
            unit="1",
            description="Capacity in use, routable agents",
        )
        meter.create_observable_gauge(
            "contactcenter.agents", [self._agents], unit="{agent}", description="Agents per state"
        )

    def _service_level(self, options: metrics.CallbackOptions) -> Iterable[metrics.Observation]:
        for (tenant, queue, channel), level in service_levels(self._mirror, self._clock()).items():
            yield metrics.Observation(level, {"tenant": tenant, "queue": queue, "channel": channel})

    def count(self, event: RoutingEvent) -> None:
        """An event-bus subscriber: one more change of the event's outcome in its queue."""
        attributes = {
            "tenant": event.tenant,
            "queue": event.queue,
            "channel": event.record.contact.channel.value,
            "outcome": event.outcome,
        }
        self.offers.add(1, attributes)
        outcome = CONTACT_OUTCOMES.get(event.outcome)
        if outcome is not None:
            ended = {
                "tenant": event.tenant,
                "queue": event.queue,
                "channel": event.record.contact.channel.value,
                "outcome": outcome,
            }
            self.contacts.add(1, ended)

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

    def _agents(self, options: metrics.CallbackOptions) -> Iterable[metrics.Observation]:
        counts: dict[tuple[str, str], int] = defaultdict(int)
        for (tenant, _), ledger in list(self._mirror.agents.items()):
            counts[(tenant, ledger.state.value)] += 1
        for (tenant, state), count in counts.items():
            yield metrics.Observation(count, {"tenant": tenant, "state": state})
