"""Streaming: every inbound message on the region's stream is analysed as it arrives and its
insights are published back on the stream (`ai_insight`), for the agent workspace and the
journey engine. The region switches it on with `spec.ai.streamInsights` (live, no restart).

The replies (`message_sent`: agents and bots) join the same conversation, so its summaries
hold both sides; they are not analysed for intent or mood and publish no insight."""

from __future__ import annotations

import logging

from ai.adapters.tenant_store import StoreError
from ai.domain.summary import reply_speaker
from ai.entrypoints.convert import inbound_message
from ai.service_layer.analysis import Analyzer
from ai.service_layer.batch_ports import AnalysisPermission
from ai.service_layer.pipelines import PipelineCatalog
from ai.service_layer.streaming import StreamInsights
from ccmesh import naming
from ccmesh.events import ConsumerSettings, DurableConsumer, PermanentError
from contactcenter.events.v1 import events_pb2

log = logging.getLogger(__name__)
DURABLE = "ai-insights"


def insight_consumer(
    js: object,
    region: str,
    insights: StreamInsights,
    catalog: PipelineCatalog,
    permission: AnalysisPermission | None = None,
) -> DurableConsumer[events_pb2.Event]:
    async def handle(event: events_pb2.Event) -> None:
        if not catalog.stream_insights:
            return  # the region has not switched streaming on (spec.ai.streamInsights): skip
        if permission is not None and not await permission.permits(
            event.tenant.tenant_id,
            event.tenant.brand_id,
            event.message_received.customer_id,
            event.contact_id,
        ):
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


REPLIES_DURABLE = "ai-replies"


def reply_consumer(
    js: object, region: str, analyzer: Analyzer, catalog: PipelineCatalog
) -> DurableConsumer[events_pb2.Event]:
    async def handle(event: events_pb2.Event) -> None:
        if not catalog.stream_insights:
            return  # no conversation is kept for the region: nothing to add the reply to
        sent = event.message_sent
        speaker = reply_speaker(sent.sender)
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
