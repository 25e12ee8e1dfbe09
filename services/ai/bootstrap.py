"""Wire the ai service's parts from the runtime."""

from __future__ import annotations

import asyncio
import logging

from ai.adapters.event_codec import StreamEvents
from ai.adapters.inference_pool import InferencePool
from ai.adapters.minilm_weights import ModelUnavailable, load_encoder
from ai.adapters.registry import ComponentRegistry
from ai.adapters.tenant_store import TenantStore
from ai.config import AiConfig
from ai.domain.component import ComponentContext, SentenceEncoder
from ai.entrypoints.consumer import insight_consumer, reply_consumer
from ai.entrypoints.rpc import AiServicer
from ai.service_layer.analysis import Analyzer
from ai.service_layer.intents import IntentModels, IntentTraining
from ai.service_layer.knowledge import KnowledgeBases
from ai.service_layer.pipelines import PipelineCatalog
from ai.service_layer.streaming import StreamInsights
from ai.service_layer.wrap_up import WrapUpConversation
from ccmesh.configplane.models import ContactCenter
from ccmesh.service_host import Runtime, ServiceParts
from contactcenter.ai.v1 import ai_pb2, ai_pb2_grpc

log = logging.getLogger(__name__)


async def sentence_encoder(config: AiConfig) -> SentenceEncoder | None:
    if not config.sentence_encoder:
        return None
    try:
        return await asyncio.to_thread(load_encoder)
    except ModelUnavailable as why:
        # A documented, degraded mode: intent models keep to TF-IDF, embeddings is refused.
        log.warning("sentence encoder unavailable (%s): intent models use TF-IDF only", why)
        return None


async def build(runtime: Runtime[AiConfig]) -> ServiceParts:
    store = await TenantStore.open(
        runtime.js,
        runtime.config.region,
        runtime.placement_tags,
        # Conversation state of wrapped-up or abandoned contacts does not stay for good.
        lambda: runtime.finished_ttl("ai"),
    )
    encoder = await sentence_encoder(runtime.config)
    models = IntentModels()
    training = IntentTraining(models, store, encoder)
    knowledge = KnowledgeBases(store, encoder)
    await training.start()
    await knowledge.start()
    registry = ComponentRegistry.discover()
    catalog = PipelineCatalog(registry, ComponentContext(intent_models=models, sentence_encoder=encoder))

    async def follow(document: ContactCenter | None) -> None:
        await catalog.apply(document)

    await catalog.apply(runtime.watcher.contact_center_for_region(runtime.config.region))
    runtime.watcher.on_region_change(runtime.config.region, follow)
    inference = InferencePool(
        runtime.config.inference_workers, blas_threads=runtime.config.inference_blas_threads
    )
    analyzer = Analyzer(catalog, store, inference)
    events = StreamEvents(runtime.events)
    servicer = AiServicer(
        runtime.access, analyzer, training, knowledge, catalog, registry, WrapUpConversation(analyzer, events)
    )
    consumers = [
        insight_consumer(runtime.js, runtime.config.region, StreamInsights(analyzer, events), catalog),
        reply_consumer(runtime.js, runtime.config.region, analyzer, catalog),
    ]
    return ServiceParts(
        servicers=[
            (
                servicer,
                ai_pb2.DESCRIPTOR.services_by_name["AiService"],
                ai_pb2_grpc.add_AiServiceServicer_to_server,
            )
        ],
        consumers=consumers if runtime.config.stream_insights else [],
        on_stop=[store.stop, inference.stop],
    )
