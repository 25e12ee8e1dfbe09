"""Queues and waiting contacts: priority 1-99, aging, FIFO inside a priority (pure).

A contact's effective priority is its base priority plus `aging_per_minute` for every minute
waited (capped at 99), so a low-priority contact cannot starve forever. Ties go to whoever
arrived first (`enqueued_at`, then a sequence number), which is FIFO by default.
A re-queued contact keeps its original `enqueued_at`, so it goes back to its original position.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ccmesh.channels import Channel
from routing.domain.agents import AcdInputError
from routing.domain.hours import BusinessHours
from routing.domain.language_rule import STRICT, LanguageRule
from routing.domain.quick_init import quick_init

MIN_PRIORITY = 1
MAX_PRIORITY = 99


@dataclass(frozen=True, slots=True)
class BullseyeRing:
    """From `after_seconds` of waiting, agents with at least `min_proficiency` in the queue's
    skills are eligible (rings widen by lowering the bar; ring 0 starts at 0 s)."""

    after_seconds: float
    min_proficiency: int


@dataclass(frozen=True, slots=True)
class ServiceLevelTarget:
    """`answered_fraction` of contacts answered within `within_seconds` (e.g. 80% in 20 s)."""

    answered_fraction: float = 0.8
    within_seconds: float = 20.0


def service_level_target(
    answered_fraction: float, within_seconds: float, field_name: str
) -> ServiceLevelTarget:
    """A checked target; errors name `field_name` (e.g. `queue.service_level`)."""
    if not 0 < answered_fraction <= 1:
        raise AcdInputError(
            f"{field_name}.answered_fraction", f"must be > 0 and <= 1, got {answered_fraction}"
        )
    if not within_seconds > 0:
        raise AcdInputError(f"{field_name}.within_seconds", f"must be > 0, got {within_seconds}")
    return ServiceLevelTarget(answered_fraction, within_seconds)


@dataclass(frozen=True, slots=True)
class QueueSpec:
    tenant: str
    name: str
    brand: str = ""
    region: str = ""
    required_skills: frozenset[str] = frozenset()
    strategy: str = "longest_idle"
    aging_per_minute: float = 0.0
    rings: tuple[BullseyeRing, ...] = (BullseyeRing(0.0, 1),)
    service_level: Mapping[Channel, ServiceLevelTarget] = field(default_factory=dict)
    preferred_agent_timeout_seconds: float = 30.0
    #: Brands whose agents are shared with this queue (shared pools); empty: only this brand.
    shared_brands: frozenset[str] = frozenset()
    #: Hours of operation; None: always open.
    hours: BusinessHours | None = None
    #: The queue's own target; `service_level` overrides it per channel.
    default_service_level: ServiceLevelTarget = ServiceLevelTarget()
    #: How strictly the contact's language is matched, widening with the wait.
    language: LanguageRule = STRICT
    #: Agents of every brand of the tenant serve this queue (the tenant shares its agent pool
    #: and the queue does not narrow it); False: its brand and `shared_brands` only. Resolved
    #: from `brand_sharing` and the tenant's setting when the queue is configured.
    all_brands: bool = False
    #: The queue's own setting (`brand_sharing`): "" follows the tenant, "isolated" narrows.
    brand_sharing: str = ""

    def __post_init__(self) -> None:
        from routing.domain.matching import STRATEGIES  # local: matching imports this module

        if self.strategy not in STRATEGIES:
            raise AcdInputError(
                "strategy", f"unknown strategy {self.strategy!r}; one of {sorted(STRATEGIES)}"
            )
        if not self.rings or self.rings[0].after_seconds != 0:
            raise AcdInputError("rings", "the first bullseye ring must start at 0 seconds")
        times = [r.after_seconds for r in self.rings]
        if times != sorted(times) or len(set(times)) != len(times):
            raise AcdInputError("rings", "ring start times must increase")
        for ring in self.rings:
            if not 1 <= ring.min_proficiency <= 5:
                raise AcdInputError("rings.min_proficiency", f"must be 1-5, got {ring.min_proficiency}")
        if self.aging_per_minute < 0:
            raise AcdInputError("aging_per_minute", "must be >= 0")

    def target_for(self, channel: Channel | None) -> ServiceLevelTarget:
        """The channel's service-level target, else the queue's (None: the queue's)."""
        if channel is None:
            return self.default_service_level
        return self.service_level.get(channel, self.default_service_level)

    def ring_at(self, waited_seconds: float) -> int:
        """Index of the widest ring reached after `waited_seconds`."""
        rings = self.rings
        i = len(rings) - 1
        while i and waited_seconds < rings[i].after_seconds:  # start times increase: the last reached
            i -= 1
        return i


@quick_init
@dataclass(frozen=True, slots=True)
class WaitingContact:
    contact_id: str
    queue: str
    channel: Channel
    priority: int
    enqueued_at: float
    sequence: int = 0
    required_skills: frozenset[str] = frozenset()
    language: str = ""
    preferred_agent: str = ""
    #: The region holding the customer's data when it is not this one (handed over to here).
    home_region: str = ""
    #: What the AI service found so far (the latest intent in scope, the latest sentiment -1..1):
    #: set at the hand-off and kept current while the contact waits, for reports and explanations.
    intent: str = ""
    sentiment: float = 0.0

    def __post_init__(self) -> None:
        if not self.contact_id:
            raise AcdInputError("contact_id", "is required")
        if not MIN_PRIORITY <= self.priority <= MAX_PRIORITY:
            raise AcdInputError("priority", f"must be {MIN_PRIORITY}-{MAX_PRIORITY}, got {self.priority}")


def effective_priority(contact: WaitingContact, queue: QueueSpec, now: float) -> float:
    waited_minutes = max(0.0, now - contact.enqueued_at) / 60.0
    return min(float(MAX_PRIORITY), contact.priority + queue.aging_per_minute * waited_minutes)


def queue_order(contacts: Iterable[WaitingContact], queue: QueueSpec, now: float) -> list[WaitingContact]:
    """Contacts in the order they should be served: highest effective priority, then FIFO."""
    return sorted(
        contacts, key=lambda c: (-effective_priority(c, queue, now), c.enqueued_at, c.sequence, c.contact_id)
    )
