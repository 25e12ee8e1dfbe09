"""What the sockets show of the contact's events: protobuf events to the JSON of the protocol.

The customer sees replies, "an agent joined" and the end of the contact; the agent sees both
sides of the conversation, AI insights and delivery status. Anything else is not shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ccmesh import channels
from ccmesh.insights import describe, intent_label, sentiment_label
from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2
from gateway.domain.display_name import display_name

AGENT_JOINED_TEXT = "An agent joined the conversation"


def _at(event: events_pb2.Event) -> float:
    return event.occurred_at.seconds + event.occurred_at.nanos / 1e9


def sender_kind(sender: str) -> str:
    """`agent:<id>` -> agent; `bot`, `bot:<flow>` -> bot."""
    return "agent" if sender.startswith("agent") else "bot"


def message_view(event: events_pb2.Event) -> dict[str, Any] | None:
    """A conversation message (either direction) as the protocol's message object, else None."""
    kind = event.WhichOneof("payload")
    if kind == "message_received":
        received = event.message_received
        return {
            "contactId": event.contact_id,
            "messageId": received.message_id,
            "from": "customer",
            "sender": "customer",
            "text": received.text,
            "at": _at(event),
        }
    if kind == "message_sent":
        sent = event.message_sent
        return {
            "contactId": event.contact_id,
            "messageId": sent.message_id,
            "from": sender_kind(sent.sender),
            "sender": sent.sender,
            "text": sent.text,
            "at": _at(event),
        }
    return None


def customer_view(event: events_pb2.Event) -> dict[str, Any] | None:
    """What the web chat customer is pushed for one event of their contact."""
    kind = event.WhichOneof("payload")
    if kind == "message_sent":
        view = message_view(event)
        assert view is not None
        view.pop("sender")  # an agent's id is internal; the widget shows "agent"
        return {"type": "message", **view}
    if kind == "contact_accepted":
        return {"type": "agent_joined", "contactId": event.contact_id, "text": AGENT_JOINED_TEXT}
    if kind == "contact_closed":
        return {
            "type": "contact_closed",
            "contactId": event.contact_id,
            "outcome": event.contact_closed.outcome,
        }
    return None


def customer_history(events: list[events_pb2.Event]) -> list[dict[str, Any]]:
    shown = []
    for event in events:
        view = message_view(event)
        if view is not None:
            view.pop("sender")
            shown.append(view)
    return shown


def transcript_view(event: events_pb2.Event) -> dict[str, Any] | None:
    """One utterance of a call (either side) as the protocol's transcript line, else None."""
    if event.WhichOneof("payload") != "transcript_segment":
        return None
    segment = event.transcript_segment
    return {
        "type": "transcript",
        "contactId": event.contact_id,
        # Stable per utterance: a line pushed live and read again from the history is one line.
        "segmentId": f"{segment.stream_id}:{segment.track}:{segment.sequence}",
        "track": segment.track,
        "text": segment.text,
        "startSeconds": segment.start_seconds,
        "endSeconds": segment.end_seconds,
        "confidence": segment.confidence,
        "language": segment.language,
        "transcribed": segment.transcribed,
        "reason": segment.reason,
        "at": _at(event),
    }


def agent_view(event: events_pb2.Event) -> dict[str, Any] | None:
    """What the agent holding the contact is pushed for one of its events."""
    kind = event.WhichOneof("payload")
    view = message_view(event)
    if view is not None:
        return {"type": "message", **view}
    if kind == "transcript_segment":
        return transcript_view(event)
    if kind == "ai_insight":
        insight = event.ai_insight
        return {
            "type": "insight",
            "contactId": event.contact_id,
            "messageId": insight.message_id,
            # The channel the analysed message came on ("" for insights made before it was recorded).
            "channel": channels.name_of_kind(insight.channel, default=""),
            "summary": describe(insight),
            "intentLabel": intent_label(insight.intent),
            "sentimentLabel": sentiment_label(insight.sentiment),
            "language": insight.language,
            "intent": insight.intent,
            "intentScore": insight.intent_score,
            "sentiment": insight.sentiment,
            "sentimentTrend": insight.sentiment_trend,
            "escalationScore": insight.escalation_score,
            "escalationReasons": list(insight.escalation_reasons),
            "entityKinds": list(insight.entity_kinds),
        }
    if kind == "message_status_changed":
        status = event.message_status_changed
        return {
            "type": "message_status",
            "contactId": event.contact_id,
            "messageId": status.message_id,
            "status": status.status,
            "reason": status.reason,
        }
    if kind == "contact_closed":
        return {
            "type": "contact_closed",
            "contactId": event.contact_id,
            "outcome": event.contact_closed.outcome,
        }
    return None


@dataclass(frozen=True)
class ContactFacts:
    channel: int
    customer_id: str
    brand_id: str
    first_message: str
    #: What the agent calls the customer (see `display_name`).
    display_name: str = ""


def conversation_facts(events: list[events_pb2.Event]) -> ContactFacts:
    """Channel, customer, brand and first customer message of a contact from its events so far."""
    channel, customer_id, brand, first = common_pb2.CHANNEL_KIND_UNSPECIFIED, "", "", ""
    name, sender = "", common_pb2.Identifier()
    for event in events:
        kind = event.WhichOneof("payload")
        brand = brand or event.tenant.brand_id
        if kind == "contact_created":
            channel = channel or event.contact_created.channel
            customer_id = customer_id or event.contact_created.customer_id
            sender = sender if sender.value else getattr(event.contact_created, "from")
        elif kind == "message_received":
            channel = channel or event.message_received.channel
            customer_id = customer_id or event.message_received.customer_id
            first = first or event.message_received.text
            name = name or event.message_received.sender_name
    return ContactFacts(channel, customer_id, brand, first, display_name(name, sender.kind, sender.value))
