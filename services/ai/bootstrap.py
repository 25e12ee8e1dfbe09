"""Wire the ai service's parts from the runtime."""

from __future__ import annotations

import asyncio
import logging

from ai.adapters.batch_contacts import ConsentPermission, ExportedContacts, StreamTurns
from ai.adapters.batch_store import KvCheckpoints, ReanalysisEvents
from ai.adapters.conversation_sync import StreamConversationSync
from ai.adapters.event_codec import StreamEvents
from ai.adapters.inference_pool import InferencePool
from ai.adapters.inference_processes import ProcessInferencePool
from ai.adapters.minilm_weights import ModelUnavailable
from ai.adapters.multilingual_encoder import sentence_encoder_loader
from ai.adapters.registry import ComponentRegistry
from ai.adapters.sentiment_weights import load_sentiment_model
from ai.adapters.speech_events import TranscriptEvents
from ai.adapters.speech_pool import SpeechPool
from ai.adapters.speech_recordings import StoredRecordings
from ai.adapters.speech_vad import voice_activity
from ai.adapters.tenant_store import TenantStore
from ai.adapters.training_objects import TrainingObjects
from ai.adapters.training_progress import TrainingProgressPublisher
from ai.adapters.training_worker import TrainingWorker
from ai.config import AiConfig
from ai.domain.component import ComponentContext, SentenceEncoder
from ai.domain.speech_segmenter import Segmenter
from ai.entrypoints.batch_rpc import BatchEndpoint
from ai.entrypoints.call_audio import recording_consumer, subscribe_call_audio
from ai.entrypoints.consumer import DURABLE as INSIGHTS_DURABLE
from ai.entrypoints.consumer import REPLIES_DURABLE, insight_consumer, reply_consumer
from ai.entrypoints.erasure_rpc import RecentTextsEndpoint
from ai.entrypoints.rpc import AiServicer
from ai.service_layer.analysis import Analyzer
from ai.service_layer.batch import ContactReanalysis
from ai.service_layer.batch_analysis import BatchAnalyser
from ai.service_layer.batch_throttle import Throttle
from ai.service_layer.intents import IntentModels, IntentTraining
from ai.service_layer.knowledge import KnowledgeBases
from ai.service_layer.pipelines import PipelineCatalog
from ai.service_layer.recent_analyses import RecentAnalyses
from ai.service_layer.streaming import StreamInsights
from ai.service_layer.transcription import CallTranscription
from ai.service_layer.transcription_recordings import TranscribeRecording
from ai.service_layer.transcription_vocabulary import StoredVocabulary
from ai.service_layer.wrap_up import WrapUpConversation
from ccmesh.configplane.models import ContactCenter
from ccmesh.consent_check import ConsentCheck
from ccmesh.rpc_client import mesh_stub
from ccmesh.service_host import Runtime, ServiceParts
from ccpolicy.pii import redact
from contactcenter.ai.v1 import ai_pb2, ai_pb2_grpc
from contactcenter.identity.v1 import identity_pb2_grpc

log = logging.getLogger(__name__)


async def sentence_encoder(config: AiConfig) -> SentenceEncoder | None:
    if not config.sentence_encoder:
        return None
    try:
        return await asyncio.to_thread(sentence_encoder_loader(config.intent_rerank))
    except ModelUnavailable as why:
        # A documented, degraded mode: intent models keep to TF-IDF, embeddings is refused.
        log.warning("sentence encoder unavailable (%s): intent models use TF-IDF only", why)
        return None


async def inference_pool(
    config: AiConfig, with_encoder: bool, models: IntentModels
) -> ProcessInferencePool | InferencePool:
    if not config.inference_processes:
        return InferencePool(config.inference_workers, blas_threads=config.inference_blas_threads)
    pool = ProcessInferencePool(
        config.inference_workers,
        # Each worker loads the encoder this process uses, so tenants' models attach there too.
        encoder_loader=sentence_encoder_loader(config.intent_rerank) if with_encoder else None,
        intent_models=models,
        blas_threads=config.inference_blas_threads,
    )
    await pool.start()  # in the background: calls run on a thread here until a worker is ready
    return pool


async def build(runtime: Runtime[AiConfig]) -> ServiceParts:
    store = await TenantStore.open(
        runtime.js,
        runtime.config.region,
        runtime.placement_tags,
        # Conversation state of wrapped-up or abandoned contacts does not stay for good.
        lambda: runtime.finished_ttl("ai"),
        replicas=runtime.config.stream_replicas,
    )
    encoder = await sentence_encoder(runtime.config)
    models = IntentModels()
    objects = await TrainingObjects.open(
        runtime.js,
        runtime.config.region,
        placement_tags=runtime.placement_tags,
        replicas=runtime.config.stream_replicas,
    )
    worker = TrainingWorker(
        # The worker process loads its own encoder: the same loader as `sentence_encoder`, or
        # every model it trains is refused here as of another kind.
        sentence_encoder_loader(runtime.config.intent_rerank) if encoder is not None else None,
        threads=runtime.config.intent_training_threads,
        memory_mb=runtime.config.intent_training_memory_mb,
    )
    progress = TrainingProgressPublisher(runtime.nc, runtime.config.region)
    vocabulary = StoredVocabulary(store)
    training = IntentTraining(
        models,
        store,
        objects,
        worker,
        encoder,
        progress,
        examples_trained=vocabulary.remember_intent_examples,
    )
    knowledge = KnowledgeBases(store, encoder)
    await training.start()
    await knowledge.start()
    registry = ComponentRegistry.discover()
    context = ComponentContext(
        intent_models=models, sentence_encoder=encoder, sentiment_model=load_sentiment_model(encoder)
    )
    catalog = PipelineCatalog(registry, context)

    async def follow(document: ContactCenter | None) -> None:
        await catalog.apply(document)

    await catalog.apply(runtime.watcher.contact_center_for_region(runtime.config.region))
    runtime.watcher.on_region_change(runtime.config.region, follow)
    inference = await inference_pool(runtime.config, encoder is not None, models)
    analyzer = Analyzer(catalog, store, inference, recent=RecentAnalyses(model_version=models.version_of))
    events = StreamEvents(runtime.events)
    servicer = AiServicer(
        runtime.access,
        analyzer,
        training,
        knowledge,
        catalog,
        registry,
        # Half the callers' deadline: room left for the summary once the messages are analysed.
        WrapUpConversation(
            analyzer,
            events,
            catch_up_seconds=runtime.config.default_deadline_seconds / 2,
            sync=StreamConversationSync(
                runtime.js,
                runtime.config.region,
                (("message_received", INSIGHTS_DURABLE), ("message_sent", REPLIES_DURABLE)),
            ),
        ),
        vocabulary=vocabulary,
        recent_texts=RecentTextsEndpoint(
            runtime.access, inference, runtime.config.region, here=(analyzer.forget_recent_texts,)
        ),
        batch=BatchEndpoint(
            runtime.access,
            ContactReanalysis(
                StreamTurns(runtime.js, runtime.config.region),
                await KvCheckpoints.open(
                    runtime.js,
                    runtime.config.region,
                    runtime.placement_tags,
                    replicas=runtime.config.stream_replicas,
                ),
                ReanalysisEvents(runtime.events, runtime.config.region),
                BatchAnalyser(catalog, inference),
                Throttle(runtime.config.batch_rate_per_second, runtime.config.batch_concurrency),
                # The same rules as live analysis: no consent where one is needed, no re-analysis.
                permission=ConsentPermission(
                    ConsentCheck(
                        identity=mesh_stub(identity_pb2_grpc.IdentityServiceStub, runtime.channel),
                        policy=runtime.policy_check("ai-batch"),
                        actor="ai-batch",
                    )
                ),
            ),
            lambda token: ExportedContacts(runtime.channel, token),
        ),
    )
    speech = SpeechPool(runtime.config.speech_recogniser, workers=runtime.config.speech_workers)
    transcript_events = TranscriptEvents(
        runtime.events, redact=lambda text: redact(text)[0], workers=runtime.config.speech_workers
    )
    transcription = CallTranscription(
        speech,
        transcript_events,
        lambda: Segmenter(voice_activity()),
        StreamInsights(analyzer, events),
        vocabulary,
        agent_turns=analyzer,
        lag=transcript_events,
    )
    call_audio = await subscribe_call_audio(runtime.nc, runtime.config.region, transcription)
    recordings = recording_consumer(
        runtime.js,
        runtime.config.region,
        TranscribeRecording(StoredRecordings(runtime.js, runtime.config.region), transcription),
    )

    async def stop_transcription() -> None:
        await call_audio.unsubscribe()
        await transcription.stop()
        speech.close()

    consumers = [
        insight_consumer(
            runtime.js,
            runtime.config.region,
            StreamInsights(analyzer, events),
            catalog,
            # Compliance: no analysis where a rule needs the customer's consent to it and it is not given.
            ConsentPermission(
                ConsentCheck(
                    identity=mesh_stub(identity_pb2_grpc.IdentityServiceStub, runtime.channel),
                    policy=runtime.policy_check("ai"),
                    actor="ai",
                )
            ),
        ),
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
        # Recordings are transcribed after the call whether or not insights are streamed.
        consumers=[*(consumers if runtime.config.stream_insights else []), recordings],
        on_stop=[stop_transcription, store.stop, inference.stop],
    )
