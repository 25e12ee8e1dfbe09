"""What the ACD announces: one typed event per kind of change (pure).

The use cases emit these to one event sink; an adapter turns each into its protobuf `Event`
for the region's stream (`routing.adapters.acd_event_codec`), and the metrics count them by
`outcome`. Every event carries the contact's record as the change left it, so a subscriber
reads the queue, agent and reservation from it rather than from a second copy.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar, TypeVar

from routing.domain.contacts import ContactRecord


@dataclass(frozen=True, slots=True)
class RoutingEvent:
    tenant: str
    record: ContactRecord
    #: The metric label of this kind of change (`contactcenter.offers{outcome=...}`).
    outcome: ClassVar[str] = ""
    #: False for changes another service's event already tells the stream (the ACD only counts them).
    on_stream: ClassVar[bool] = True

    @property
    def contact_id(self) -> str:
        return self.record.contact.contact_id

    @property
    def queue(self) -> str:
        return self.record.contact.queue


@dataclass(frozen=True, slots=True)
class ContactQueued(RoutingEvent):
    """A contact now waits in `queue` (first enqueue, or after a transfer)."""

    outcome: ClassVar[str] = "queued"


@dataclass(frozen=True, slots=True)
class ContactOffered(RoutingEvent):
    """The contact was reserved for `record.agent_id`; `rule` is the deciding rule."""

    rule: str
    outcome: ClassVar[str] = "offered"


@dataclass(frozen=True, slots=True)
class ContactAccepted(RoutingEvent):
    outcome: ClassVar[str] = "accepted"


@dataclass(frozen=True, slots=True)
class OfferReturned(RoutingEvent):
    """An offer the agent did not take; the contact waits again at its old position."""

    agent_id: str
    reservation_id: str


@dataclass(frozen=True, slots=True)
class OfferDeclined(OfferReturned):
    outcome: ClassVar[str] = "declined"


@dataclass(frozen=True, slots=True)
class OfferTimedOut(OfferReturned):
    outcome: ClassVar[str] = "timeout"


@dataclass(frozen=True, slots=True)
class ContactRequeued(OfferReturned):
    """The agent went offline (or its heartbeat lapsed) while the offer rang."""

    outcome: ClassVar[str] = "offline"


@dataclass(frozen=True, slots=True)
class ContactOverflowed(RoutingEvent):
    """An overflow rule moved the contact to another queue of this region, or widened it."""

    from_queue: str
    reason: str
    outcome: ClassVar[str] = "overflow"


@dataclass(frozen=True, slots=True)
class ContactHandedOver(RoutingEvent):
    """An overflow rule handed the contact to another region's queue, which stored it."""

    rule: str
    to_region: str
    to_queue: str
    reason: str
    outcome: ClassVar[str] = "overflow_region"


@dataclass(frozen=True, slots=True)
class ContactTransferred(RoutingEvent):
    """The agent holding the contact moved it to another queue."""

    from_queue: str
    reason: str
    outcome: ClassVar[str] = "transferred"


@dataclass(frozen=True, slots=True)
class OfferWithdrawn(RoutingEvent):
    """The contact ended while its offer rang: the agent's offer card must go."""

    reason: str
    outcome: ClassVar[str] = "withdrawn"


@dataclass(frozen=True, slots=True)
class ContactAbandoned(RoutingEvent):
    """The customer left while waiting in the queue (never offered). The gateway's ContactClosed
    already tells the stream; this one is for the ACD's own counts."""

    outcome: ClassVar[str] = "abandoned"
    on_stream: ClassVar[bool] = False


@dataclass(frozen=True, slots=True)
class ContactCompleted(RoutingEvent):
    """The agent finished the contact; its slot is free again."""

    outcome: ClassVar[str] = "closed"


@dataclass(frozen=True, slots=True)
class ContactTurnedAway(RoutingEvent):
    """The queue was closed and its action is a message: the customer is told `text` on their
    channel and the contact leaves routing."""

    text: str
    outcome: ClassVar[str] = "closed_message"


@dataclass(frozen=True, slots=True)
class CallbackScheduled(RoutingEvent):
    """The queue was closed and its action is a call back: the contact waits as a call-back
    request (keeping its place) and the customer is told `text` on their channel."""

    text: str
    outcome: ClassVar[str] = "callback_scheduled"


@dataclass(frozen=True, slots=True)
class CallbackPlaced(RoutingEvent):
    """An agent accepted a call-back request: the call to the customer is to be placed now."""

    outcome: ClassVar[str] = "callback_placed"


R = TypeVar("R")
#: The events a write announces, from the record before (None: absent) and after its change; the
#: store keeps them with the change itself until they are surely published.
Announce = Callable[[R | None, R], Sequence[RoutingEvent]]
