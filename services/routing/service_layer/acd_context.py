"""What every ACD use case shares: the store, this instance's view of it, settings, the event
sink and the clock. The use cases (`acd_enqueue`, `acd_presence`, `acd_offers`, `acd_routing`,
`acd_transfers`, `acd_sweeping`, `acd_stats`, `acd_closing`) each take one `AcdContext`."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from routing.domain.agents import AcdInputError
from routing.domain.queueing import QueueSpec
from routing.service_layer.ports import (
    NO_DIRECTORY,
    AcdRecords,
    AcdView,
    EventSink,
    RegionDirectory,
    no_events,
)


@dataclass(frozen=True)
class AcdSettings:
    offer_timeout_seconds: float = 20.0
    heartbeat_timeout_seconds: float = 30.0
    #: How often the loop sweeps for timed-out offers and lapsed heartbeats.
    tick_seconds: float = 0.5
    #: This instance's region; overflow rules to other regions hand the contact over there.
    region: str = ""
    #: How long a hand-over to another region may stay unanswered before a sweeper retries it.
    handover_timeout_seconds: float = 15.0
    #: After another region refused a contact, how long before a rule may hand it over again.
    handover_retry_seconds: float = 60.0


@dataclass
class AcdContext:
    store: AcdRecords
    mirror: AcdView
    settings: AcdSettings = field(default_factory=AcdSettings)
    events: EventSink = no_events
    clock: Callable[[], float] = time.time
    #: The region's tenants and regions as configured (brand sharing, known regions).
    directory: RegionDirectory = field(default_factory=lambda: NO_DIRECTORY)

    def now(self) -> float:
        return self.clock()

    def now_utc(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    async def queue(self, tenant: str, name: str) -> QueueSpec | None:
        """The queue as this instance sees it, else as stored (configured by another instance)."""
        cached = self.mirror.queues.get((tenant, name))
        if cached is not None:
            return cached
        return await self.store.get_queue(tenant, name)

    async def known_queue(self, tenant: str, name: str) -> QueueSpec:
        queue = await self.queue(tenant, name)
        if queue is None:
            raise AcdInputError("queue", f"unknown queue {name!r} for tenant {tenant!r}")
        return queue

    def known_skills(self, tenant: str) -> set[str]:
        """The tenant's skill catalog: every skill its queues name."""
        return {s for (t, _), q in list(self.mirror.queues.items()) if t == tenant for s in q.required_skills}

    def check_skills(self, tenant: str, skills: frozenset[str] | None) -> None:
        unknown = sorted((skills or frozenset()) - self.known_skills(tenant))
        if unknown:
            raise AcdInputError(
                "required_skills", f"unknown skill(s) {unknown}; no queue of {tenant!r} names them"
            )
