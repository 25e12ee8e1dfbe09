"""What the ai service announces on the region's event stream: one typed event per fact (pure).

The use cases hand these to a publisher port; `ai.adapters.event_codec` is the one place that
turns them into protobuf `Event`s.
"""

from __future__ import annotations

from dataclasses import dataclass

from ai.domain.ticket import Ticket
from ccmesh.channels import Channel


@dataclass(frozen=True, slots=True)
class AiEvent:
    tenant_id: str
    contact_id: str


@dataclass(frozen=True, slots=True)
class InsightFound(AiEvent):
    """What the analysis of one inbound message found, for the agent workspace and journeys.

    Only the redacted text and the kinds of personal data travel, never the original values.
    """

    brand_id: str
    #: The analysed message; its id fixes the event's, so a redelivered message is announced once.
    message_id: str
    #: The channel the message came on (None when the message did not say).
    channel: Channel | None
    language: str
    #: 0 when the language fell back to the one the entry point expects.
    language_confidence: float
    language_reliable: bool
    intent: str
    intent_score: float
    sentiment: float
    sentiment_trend: float
    entity_kinds: tuple[str, ...]
    redacted_text: str
    escalation_score: float
    escalation_reasons: tuple[str, ...]
    pipeline: str


@dataclass(frozen=True, slots=True)
class TicketDrafted(AiEvent):
    """A wrapped-up conversation became a ticket for the business systems."""

    ticket: Ticket
    #: Tells two wrap-ups of the same contact apart (each drafts its own ticket).
    draft_id: str
