"""Streaming: every inbound message on the region's stream is analysed as it arrives and its
insights are published back on the stream (`ai_insight`), for the agent workspace and the
journey engine. The region switches it on with `spec.ai.streamInsights` (live, no restart).

The replies (`message_sent`: agents and bots) join the same conversation, so its summaries
hold both sides; they are not analysed for intent or mood and publish no insight."""

from __future__ import annotations

import logging

from ai.adapters.tenant_store import StoreError
from ai.entrypoints.convert import inbound_message
from ai.service_layer.analysis import Analyzer
from ai.service_layer.pipelines import PipelineCatalog
from ai.service_layer.streaming import StreamInsights
from ccmesh import naming
from ccmesh.consent_check import ConsentCheck
from ccmesh.events import ConsumerSettings, DurableConsumer, PermanentError
from ccpolicy import Action
from contactcenter.events.v1 import events_pb2

log = logging.getLogger(__name__)
DURABLE = "ai-insights"


def insight_consumer(
    js: object,
    region: str,
    insights: StreamInsights,
    catalog: PipelineCatalog,
    consent: ConsentCheck | None = None,
) -> DurableConsumer[events_pb2.Event]:
    async def handle(event: events_pb2.Event) -> None:
        if not catalog.stream_insights:
            return  # the region has not switched streaming on (spec.ai.streamInsights): skip
        if consent is not None and not await _may_analyse(consent, event):
            return  # a compliance rule refused it (e.g. no consent to AI analysis): published
        try:
            await insights.on_message(inbound_message(event))
        except StoreError as error:  # an id that cannot be a key will never succeed
            raise PermanentError(str(error)) from None

    settings = ConsumerSettings(
        durable=DURABLE,
        filter_subject=naming.event_subject(region, "*", "message_received", "*"),
    )
    return DurableConsumer(js, region, settings, handle)  # type: ignore[arg-type]


async def _may_analyse(consent: ConsentCheck, event: events_pb2.Event) -> bool:
    decision = await consent.permits(
        Action.ANALYSE,
        tenant_id=event.tenant.tenant_id,
        brand_id=event.tenant.brand_id,
        customer_id=event.message_received.customer_id,
        contact_id=event.contact_id,
    )
    return decision.allowed


REPLIES_DURABLE = "ai-replies"
#: MessageSent senders are "agent:<id>" or "bot..."; the conversation keeps who spoke.
_AGENT_PREFIX = "agent"


def reply_consumer(
    js: object, region: str, analyzer: Analyzer, catalog: PipelineCatalog
) -> DurableConsumer[events_pb2.Event]:
    async def handle(event: events_pb2.Event) -> None:
        if not catalog.stream_insights:
            return  # no conversation is kept for the region: nothing to add the reply to
        sent = event.message_sent
        speaker = "agent" if sent.sender.startswith(_AGENT_PREFIX) else "bot"
        try:
            await analyzer.record_reply(
                event.tenant.tenant_id,
                event.contact_id,
                sent.message_id or event.event_id,
                sent.text,
                speaker,
            )
        except StoreError as error:  # an id that cannot be a key will never succeed
            raise PermanentError(str(error)) from None

    settings = ConsumerSettings(
        durable=REPLIES_DURABLE,
        filter_subject=naming.event_subject(region, "*", "message_sent", "*"),
    )
    return DurableConsumer(js, region, settings, handle)  # type: ignore[arg-type]
