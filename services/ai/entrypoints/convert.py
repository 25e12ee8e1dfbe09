"""Domain results to protobuf messages and events."""

from __future__ import annotations

import uuid

from ai.domain.language import UNDETERMINED, reliable
from ai.domain.ticket import Ticket
from ai.service_layer.analysis import Analysis
from ccmesh.envelope import new_event
from contactcenter.ai.v1 import ai_pb2
from contactcenter.events.v1 import events_pb2

#: `source` of the events the AI service publishes.
SOURCE = "ai"


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


def insight_event(received: events_pb2.Event, message_id: str, analysis: Analysis) -> events_pb2.Event:
    found = analysis.insights
    received_message = received.message_received
    insight = events_pb2.AiInsight(
        message_id=message_id,
        language=_language(found.language, received_message.language),
        language_confidence=found.language_confidence if found.language not in ("", UNDETERMINED) else 0.0,
        language_reliable=reliable(found.text, found.language, found.language_confidence),
        channel=received_message.channel,
        intent=found.intent,
        intent_score=found.intent_confidence,
        sentiment=found.sentiment,
        sentiment_trend=analysis.sentiment_trend,
        entity_kinds=sorted({e.kind for e in found.entities}),
        redacted_text=found.redacted_text,
        escalation_score=found.escalation_score,
        escalation_reasons=found.escalation_reasons,
        pipeline=analysis.pipeline,
    )
    return new_event(
        insight,
        tenant_id=received.tenant.tenant_id,
        brand_id=received.tenant.brand_id,
        region=received.region,
        source=SOURCE,
        contact_id=received.contact_id,
        # Derived from the message id: a redelivered message publishes the same event id (deduplicated).
        event_id=f"ai-insight-{message_id}",
    )


def _language(detected: str, expected: str) -> str:
    """The detected language; when the text was too short to tell, the one the entry point expects."""
    if detected in ("", UNDETERMINED) and expected:
        return expected
    return detected


def ticket_event(tenant_id: str, contact_id: str, ticket: Ticket, region: str) -> events_pb2.Event:
    made = events_pb2.AiTicket(
        title=ticket.title,
        category=ticket.category,
        priority=ticket.priority,
        summary=ticket.summary,
        entity_kinds=ticket.entity_kinds,
        customer_ref=ticket.customer_ref,
    )
    return new_event(
        made,
        tenant_id=tenant_id,
        region=region,
        source=SOURCE,
        contact_id=contact_id,
        event_id=f"ai-ticket-{contact_id}-{uuid.uuid4().hex[:8]}",
    )
