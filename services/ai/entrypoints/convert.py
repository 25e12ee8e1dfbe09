"""Domain results to protobuf messages and events."""

from __future__ import annotations

import uuid

from google.protobuf.timestamp_pb2 import Timestamp

from ai.domain.ticket import Ticket
from ai.service_layer.analysis import Analysis
from contactcenter.ai.v1 import ai_pb2
from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2


def insight_message(analysis: Analysis) -> ai_pb2.Insight:
    found = analysis.insights
    return ai_pb2.Insight(
        pipeline=analysis.pipeline,
        components=analysis.components,
        language=found.language,
        language_confidence=found.language_confidence,
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


def _envelope(event_id: str, tenant: common_pb2.TenantRef, contact_id: str, region: str) -> events_pb2.Event:
    now = Timestamp()
    now.GetCurrentTime()
    return events_pb2.Event(
        event_id=event_id,
        occurred_at=now,
        tenant=tenant,
        region=region,
        contact_id=contact_id,
        source="ai",
        schema_version=1,
    )


def insight_event(received: events_pb2.Event, message_id: str, analysis: Analysis) -> events_pb2.Event:
    found = analysis.insights
    # Derived from the message id: a redelivered message publishes the same event id (deduplicated).
    event = _envelope(f"ai-insight-{message_id}", received.tenant, received.contact_id, received.region)
    event.ai_insight.CopyFrom(
        events_pb2.AiInsight(
            message_id=message_id,
            language=found.language,
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
    )
    return event


def ticket_event(tenant_id: str, contact_id: str, ticket: Ticket, region: str) -> events_pb2.Event:
    event = _envelope(
        f"ai-ticket-{contact_id}-{uuid.uuid4().hex[:8]}",
        common_pb2.TenantRef(tenant_id=tenant_id),
        contact_id,
        region,
    )
    event.ai_ticket.CopyFrom(
        events_pb2.AiTicket(
            title=ticket.title,
            category=ticket.category,
            priority=ticket.priority,
            summary=ticket.summary,
            entity_kinds=ticket.entity_kinds,
            customer_ref=ticket.customer_ref,
        )
    )
    return event
