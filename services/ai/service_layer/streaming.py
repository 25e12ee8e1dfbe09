"""Streaming insights: each inbound message is analysed as it arrives and what was found is
announced (`InsightFound`), for the agent workspace and the journey engine."""

from __future__ import annotations

from dataclasses import dataclass

from ai.domain.events import InsightFound
from ai.domain.language import UNDETERMINED, reliable
from ai.service_layer.analysis import MAX_TEXT_CHARS, Analysis, Analyzer
from ai.service_layer.ports import AiEvents
from ccmesh.channels import Channel


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """One message a customer sent, as the stream announced it."""

    tenant_id: str
    brand_id: str
    contact_id: str
    message_id: str
    text: str
    channel: Channel | None
    #: The language the entry point expects ("" when it names none).
    expected_language: str = ""


def insight_of(message: InboundMessage, analysis: Analysis) -> InsightFound:
    found = analysis.insights
    determined = found.language not in ("", UNDETERMINED)
    return InsightFound(
        tenant_id=message.tenant_id,
        contact_id=message.contact_id,
        brand_id=message.brand_id,
        message_id=message.message_id,
        channel=message.channel,
        language=_language(found.language, message.expected_language),
        language_confidence=found.language_confidence if determined else 0.0,
        language_reliable=reliable(found.text, found.language, found.language_confidence),
        intent=found.intent,
        intent_score=found.intent_confidence,
        sentiment=found.sentiment,
        sentiment_trend=analysis.sentiment_trend,
        entity_kinds=tuple(sorted({e.kind for e in found.entities})),
        redacted_text=found.redacted_text,
        escalation_score=found.escalation_score,
        escalation_reasons=tuple(found.escalation_reasons),
        pipeline=analysis.pipeline,
    )


def _language(detected: str, expected: str) -> str:
    """The detected language; when the text was too short to tell, the one the entry point expects."""
    if detected in ("", UNDETERMINED) and expected:
        return expected
    return detected


class StreamInsights:
    def __init__(self, analyzer: Analyzer, events: AiEvents) -> None:
        self._analyzer = analyzer
        self._events = events

    async def on_message(self, message: InboundMessage) -> InsightFound:
        """Analyse the message (it joins its conversation) and announce what was found."""
        analysis = await self._analyzer.analyze(
            message.tenant_id,
            message.brand_id,
            message.text[:MAX_TEXT_CHARS],
            contact_id=message.contact_id,
            message_id=message.message_id,
        )
        found = insight_of(message, analysis)
        await self._events.publish(found)
        return found
