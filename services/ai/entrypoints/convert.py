"""Protobuf requests and events to use-case inputs, and results back to protobuf messages."""

from __future__ import annotations

from dataclasses import replace

from ai.adapters.event_codec import to_protobuf
from ai.domain.language import reliable
from ai.domain.ticket import Ticket
from ai.service_layer.analysis import Analysis
from ai.service_layer.streaming import InboundMessage, insight_of
from ccmesh import channels
from contactcenter.ai.v1 import ai_pb2
from contactcenter.events.v1 import events_pb2


def insight_message(analysis: Analysis) -> ai_pb2.Insight:
    found = analysis.insights
    return ai_pb2.Insight(
        pipeline=analysis.pipeline,
        components=analysis.components,
        language=found.language,
        language_confidence=found.language_confidence,
        language_reliable=reliable(found.text, found.language, found.language_confidence),
        intent=found.intent,
        intent_score=found.intent_confidence,
        out_of_scope=found.out_of_scope,
        intent_model_version=found.intent_model_version,
        sentiment=found.sentiment,
        sentiment_label=found.sentiment_label,
        sentiment_trend=analysis.sentiment_trend,
        entities=[ai_pb2.Entity(kind=e.kind, start=e.start, end=e.end) for e in found.entities],
        redacted_text=found.redacted_text,
        escalation_score=found.escalation_score,
        escalation_reasons=found.escalation_reasons,
        extras=found.extras,
    )


def ticket_message(ticket: Ticket, contact_id: str) -> ai_pb2.Ticket:
    return ai_pb2.Ticket(
        title=ticket.title,
        category=ticket.category,
        priority=ticket.priority,
        summary=ticket.summary,
        entity_kinds=ticket.entity_kinds,
        customer_ref=ticket.customer_ref,
        contact_id=contact_id,
    )


def inbound_message(event: events_pb2.Event) -> InboundMessage:
    """The `message_received` event as the streaming use case reads it."""
    received = event.message_received
    return InboundMessage(
        tenant_id=event.tenant.tenant_id,
        brand_id=event.tenant.brand_id,
        contact_id=event.contact_id,
        # A message without its own id is named by its event's (a redelivery keeps both).
        message_id=received.message_id or event.event_id,
        text=received.text,
        channel=channels.from_kind_or_none(received.channel),
        expected_language=received.language,
    )


def insight_event(received: events_pb2.Event, message_id: str, analysis: Analysis) -> events_pb2.Event:
    """The `ai_insight` event the streaming consumer publishes for `analysis` of `received`."""
    message = replace(inbound_message(received), message_id=message_id)
    return to_protobuf(insight_of(message, analysis), received.region)
