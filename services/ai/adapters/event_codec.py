"""The ai service's domain events as protobuf `Event`s on the region's stream (the one place
that maps them)."""

from __future__ import annotations

from google.protobuf.message import Message

from ai.domain import events as ev
from ccmesh import channels
from ccmesh.envelope import new_event
from ccmesh.events import EventPublisher
from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2

#: `source` of the events the AI service publishes.
SOURCE = "ai"


def to_protobuf(event: ev.AiEvent, region: str) -> events_pb2.Event:
    match event:
        case ev.InsightFound():
            return new_event(
                _insight(event),
                tenant_id=event.tenant_id,
                brand_id=event.brand_id,
                region=region,
                source=SOURCE,
                contact_id=event.contact_id,
                event_id=f"ai-insight-{event.message_id}",
            )
        case ev.TicketDrafted():
            return new_event(
                _ticket(event),
                tenant_id=event.tenant_id,
                region=region,
                source=SOURCE,
                contact_id=event.contact_id,
                event_id=f"ai-ticket-{event.contact_id}-{event.draft_id}",
            )
    raise TypeError(f"no protobuf event for {type(event).__name__}")


def _insight(event: ev.InsightFound) -> Message:
    unspecified = common_pb2.CHANNEL_KIND_UNSPECIFIED
    kind = channels.to_kind(event.channel) if event.channel is not None else unspecified
    return events_pb2.AiInsight(
        message_id=event.message_id,
        language=event.language,
        language_confidence=event.language_confidence,
        language_reliable=event.language_reliable,
        channel=kind,  # type: ignore[arg-type]
        intent=event.intent,
        intent_score=event.intent_score,
        sentiment=event.sentiment,
        sentiment_trend=event.sentiment_trend,
        entity_kinds=event.entity_kinds,
        redacted_text=event.redacted_text,
        escalation_score=event.escalation_score,
        escalation_reasons=event.escalation_reasons,
        pipeline=event.pipeline,
    )


def _ticket(event: ev.TicketDrafted) -> Message:
    ticket = event.ticket
    return events_pb2.AiTicket(
        title=ticket.title,
        category=ticket.category,
        priority=ticket.priority,
        summary=ticket.summary,
        entity_kinds=ticket.entity_kinds,
        customer_ref=ticket.customer_ref,
    )


class StreamEvents:
    """Publishes the ai service's domain events on the region's event stream."""

    def __init__(self, events: EventPublisher) -> None:
        self._events = events

    async def publish(self, event: ev.AiEvent) -> None:
        await self._events.publish(to_protobuf(event, self._events.region))
