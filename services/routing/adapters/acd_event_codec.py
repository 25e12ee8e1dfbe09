"""The ACD's domain events as protobuf `Event`s on the region's stream (the one place that maps them)."""

from __future__ import annotations

from google.protobuf.message import Message

from ccmesh import channels
from ccmesh.envelope import new_event, stable_event_id
from contactcenter.events.v1 import events_pb2
from routing.domain import events as ev

#: `source` of the events the ACD publishes; its own ContactQueued events are not taken back in.
ACD_SOURCE = "routing-acd"


#: How many conversions are kept for the event objects converted last (see `to_protobuf`).
CONVERTED_LIMIT = 1024
#: id(event) -> (the event, its region, its envelope). The event is kept with its envelope, so
#: its id cannot be reused by another object while the entry exists.
_converted: dict[int, tuple[ev.RoutingEvent, str, events_pb2.Event]] = {}


def to_protobuf(event: ev.RoutingEvent, region: str) -> events_pb2.Event:
    """The envelope for one ACD change; its id is fixed by the change (kind, queue and
    reservation or offer count), so a retried publish is dropped by the stream as a duplicate.

    An event is staged in its record's outbox and then published: the second conversion of the
    same event object returns the first envelope (the same bytes go out either way). Callers
    must not change the envelope they get.
    """
    found = _converted.get(id(event))
    if found is not None and found[0] is event and found[1] == region:
        return found[2]
    message = _envelope(event, region)
    if len(_converted) >= CONVERTED_LIMIT:
        del _converted[next(iter(_converted))]
    _converted[id(event)] = (event, region, message)
    return message


def _envelope(event: ev.RoutingEvent, region: str) -> events_pb2.Event:
    record = event.record
    return new_event(
        _payload(event),
        tenant_id=event.tenant,
        region=region,
        source=ACD_SOURCE,
        contact_id=event.contact_id,
        event_id=stable_event_id(
            "acd",
            event.tenant,
            event.contact_id,
            event.outcome,
            event.queue,
            record.reservation_id or record.offers,
            # A widening keeps the contact in its queue: each level (its reason) is its own change.
            *((event.reason,) if isinstance(event, ev.ContactOverflowed) else ()),
        ),
    )


def _payload(event: ev.RoutingEvent) -> Message:
    record, queue = event.record, event.queue
    contact = record.contact
    match event:
        case ev.ContactQueued():
            return events_pb2.ContactQueued(
                queue=queue,
                channel=channels.to_kind(contact.channel),  # type: ignore[arg-type]
                priority=contact.priority,
                required_skills=sorted(contact.required_skills),
                language=contact.language,
                preferred_agent=contact.preferred_agent,
            )
        case ev.ContactOffered():
            # A contact handed over from another region: the agent's gateway reads it there.
            return events_pb2.ContactOffered(
                queue=queue,
                agent_id=record.agent_id,
                reservation_id=record.reservation_id,
                home_region=contact.home_region,
                callback=record.closed_action == "callback",
            )
        case ev.ContactAccepted():
            return events_pb2.ContactAccepted(
                queue=queue, agent_id=record.agent_id, reservation_id=record.reservation_id
            )
        case ev.OfferDeclined(agent_id=agent_id, reservation_id=reservation_id):
            return events_pb2.OfferDeclined(queue=queue, agent_id=agent_id, reservation_id=reservation_id)
        case ev.OfferTimedOut(agent_id=agent_id, reservation_id=reservation_id):
            return events_pb2.OfferTimedOut(queue=queue, agent_id=agent_id, reservation_id=reservation_id)
        case ev.ContactRequeued(agent_id=agent_id):
            return events_pb2.ContactRequeued(
                queue=queue, priority=contact.priority, reason="agent_offline", agent_id=agent_id
            )
        case (
            ev.ContactOverflowed(from_queue=from_queue, reason=reason)
            | ev.ContactTransferred(from_queue=from_queue, reason=reason)
        ):
            return events_pb2.ContactTransferred(from_queue=from_queue, to_queue=queue, reason=reason)
        case ev.ContactHandedOver():
            return events_pb2.ContactOverflowed(
                rule=event.rule,
                from_queue=queue,
                to_region=event.to_region,
                to_queue=event.to_queue,
                reason=event.reason,
            )
        case ev.OfferWithdrawn(reason=reason):
            return events_pb2.OfferWithdrawn(
                queue=queue, agent_id=record.agent_id, reservation_id=record.reservation_id, reason=reason
            )
        case ev.ContactCompleted():
            return events_pb2.ContactClosed(outcome="completed", closed_by=record.agent_id)
        case ev.ContactTurnedAway(text=text) | ev.CallbackScheduled(text=text):
            # To the customer on the channel they came in on; the gateway's outbound side sends it.
            return events_pb2.MessageSent(
                message_id=stable_event_id("acd", event.tenant, event.contact_id, event.outcome, "message"),
                channel=channels.to_kind(contact.channel),  # type: ignore[arg-type]
                text=text,
                sender="bot:routing",  # the queue, not an agent, is speaking
            )
        case ev.CallbackPlaced():
            # The gateway places the call from the tenant's voice endpoint of the contact's brand.
            return events_pb2.CallbackRequested(
                queue=queue, channel="voice", attempt=1, agent_id=record.agent_id
            )
    raise TypeError(f"no event payload for {type(event).__name__}")
