"""A customer's cross-channel timeline: entries from contact events and from other services."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass

import orjson

from ccmesh.insights import describe
from contactcenter.events.v1 import events_pb2

# Kinds and channels are the proto enum numbers (TimelineEntryKind, ChannelKind).
CONTACT, MESSAGE_IN, MESSAGE_OUT, TRANSFER, AI_INSIGHT, OUTCOME = 1, 2, 3, 4, 5, 6
MAX_SUMMARY = 4096


@dataclass(frozen=True)
class TimelineEntry:
    entry_id: str
    customer_id: str
    kind: int
    channel: int
    contact_id: str
    at: float
    summary: str

    def key_token(self) -> str:
        """Subject-safe key token of the entry id (ids from events may contain dots)."""
        return hashlib.sha256(self.entry_id.encode()).hexdigest()[:32]

    def to_json(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def from_json(cls, data: bytes) -> TimelineEntry:
        return cls(**orjson.loads(data))


@dataclass(frozen=True)
class ContactLink:
    """Which customer a contact belongs to, learnt from ContactCreated."""

    customer_id: str
    channel: int


#: Event kinds whose entry belongs to the customer of the contact's link (the event names only
#: the contact); ContactCreated and MessageReceived name their customer themselves, and every
#: other kind makes no entry, so only these need the link read.
LINKED_KINDS = frozenset(
    {
        "message_sent",
        "contact_transferred",
        "contact_overflowed",
        "contact_wrapped_up",
        "ai_insight",
        "contact_closed",
    }
)

#: Every event kind that can make a timeline entry: the timeline consumer reads only these.
TIMELINE_KINDS = LINKED_KINDS | {"contact_created", "message_received"}


def needs_link(event: events_pb2.Event) -> bool:
    return bool(event.contact_id) and event.WhichOneof("payload") in LINKED_KINDS


def entry_from_event(event: events_pb2.Event, link: ContactLink | None) -> TimelineEntry | None:
    """The timeline entry an event makes, or None for events that are not part of the history."""
    at = event.occurred_at.seconds + event.occurred_at.nanos / 1e9
    kind = event.WhichOneof("payload")

    def entry(customer_id: str, kind_number: int, channel: int, summary: str) -> TimelineEntry | None:
        if not customer_id:
            return None
        return TimelineEntry(
            event.event_id, customer_id, kind_number, channel, event.contact_id, at, summary[:MAX_SUMMARY]
        )

    if kind == "contact_created":
        created = event.contact_created
        return entry(created.customer_id, CONTACT, created.channel, created.entry_point)
    if kind == "message_received":
        received = event.message_received
        return entry(received.customer_id, MESSAGE_IN, received.channel, received.text)
    if link is None:
        return None
    if kind == "message_sent":
        return entry(link.customer_id, MESSAGE_OUT, event.message_sent.channel, event.message_sent.text)
    if kind == "contact_transferred":
        moved = event.contact_transferred
        return entry(
            link.customer_id,
            TRANSFER,
            link.channel,
            f"{moved.from_queue} -> {moved.to_queue}: {moved.reason}",
        )
    if kind == "contact_overflowed":
        # Another region's queue took the contact (follow-the-sun, overflow rules).
        went = event.contact_overflowed
        return entry(
            link.customer_id,
            TRANSFER,
            link.channel,
            f"{went.from_queue} -> {went.to_region}/{went.to_queue}: {went.reason}",
        )
    if kind == "contact_wrapped_up":
        wrapped = event.contact_wrapped_up
        summary = f"{wrapped.disposition} ({wrapped.agent_id})"
        return entry(
            link.customer_id,
            OUTCOME,
            link.channel,
            f"{summary}: {wrapped.notes}" if wrapped.notes else summary,
        )
    if kind == "ai_insight":
        # What the ai service found (intent, sentiment), told for people; never the message text.
        # The insight's own channel: a chat that became a call has voice insights.
        insight = event.ai_insight
        return entry(link.customer_id, AI_INSIGHT, insight.channel or link.channel, describe(insight))
    if kind == "contact_closed":
        return entry(link.customer_id, OUTCOME, link.channel, event.contact_closed.outcome)
    return None
