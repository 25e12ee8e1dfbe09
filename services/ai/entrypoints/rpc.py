"""AiService: decode, check access, call one use case, encode."""

from __future__ import annotations

from typing import Any

import grpc

from ai.adapters.registry import ComponentRegistry
from ai.adapters.tenant_store import StoreError
from ai.adapters.training_worker import TrainingFailed
from ai.domain.intent import TrainingError
from ai.domain.knowledge import Article, KnowledgeError
from ai.entrypoints.batch_rpc import BatchEndpoint
from ai.entrypoints.convert import insight_message, ticket_message
from ai.entrypoints.erasure_rpc import RecentTextsEndpoint
from ai.entrypoints.training_reply import training_reply
from ai.service_layer.analysis import MAX_TEXT_CHARS, Analyzer, ConversationNotFoundError
from ai.service_layer.intents import IntentTraining
from ai.service_layer.knowledge import KnowledgeBases, language_of
from ai.service_layer.pipelines import PipelineCatalog
from ai.service_layer.transcription_vocabulary import PhraseListError, StoredVocabulary
from ai.service_layer.wrap_up import WrapUpConversation
from ccmesh.access import AccessControl
from ccmesh.rpc_context import abort
from ccpolicy.pii import redact
from contactcenter.ai.v1 import ai_pb2, ai_pb2_grpc

CALLER_ROLES = frozenset({"admin", "supervisor", "agent", "integration", "service"})
TRAINER_ROLES = frozenset({"admin", "supervisor"})
SPEAKERS = {
    ai_pb2.SPEAKER_UNSPECIFIED: "customer",
    ai_pb2.SPEAKER_CUSTOMER: "customer",
    ai_pb2.SPEAKER_AGENT: "agent",
    ai_pb2.SPEAKER_BOT: "bot",
}
MAX_SUGGESTIONS = 10


class AiServicer(ai_pb2_grpc.AiServiceServicer):
    def __init__(
        self,
        access: AccessControl,
        analyzer: Analyzer,
        training: IntentTraining,
        knowledge: KnowledgeBases,
        catalog: PipelineCatalog,
        registry: ComponentRegistry,
        wrap_up: WrapUpConversation,
        vocabulary: StoredVocabulary | None = None,
        batch: BatchEndpoint | None = None,
        recent_texts: RecentTextsEndpoint | None = None,
    ) -> None:
        self._recent_texts = recent_texts
        self._batch = batch
        self._vocabulary = vocabulary
        self._access = access
        self._analyzer = analyzer
        self._training = training
        self._knowledge = knowledge
        self._catalog = catalog
        self._registry = registry
        self._wrap_up = wrap_up

    async def _check_text(self, context: Any, text: str) -> None:
        if len(text) > MAX_TEXT_CHARS:
            await abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                f"text has {len(text)} characters; the maximum is {MAX_TEXT_CHARS}",
            )

    async def RedactText(self, request: ai_pb2.RedactTextRequest, context: Any) -> ai_pb2.RedactTextResponse:
        await self._access.require(context, request.tenant_id, CALLER_ROLES)
        await self._check_text(context, request.text)
        redacted, entities = redact(request.text)
        return ai_pb2.RedactTextResponse(
            redacted_text=redacted,
            entities=[ai_pb2.Entity(kind=e.kind, start=e.start, end=e.end) for e in entities],
        )

    async def AnalyzeMessage(
        self, request: ai_pb2.AnalyzeMessageRequest, context: Any
    ) -> ai_pb2.AnalyzeMessageResponse:
        await self._access.require(context, request.tenant_id, CALLER_ROLES)
        await self._check_text(context, request.text)
        try:
            analysis = await self._analyzer.analyze(
                request.tenant_id,
                request.brand_id,
                request.text,
                contact_id=request.contact_id,
                message_id=request.message_id,
                speaker=SPEAKERS.get(request.speaker, "customer"),
                repeat_contacts=request.repeat_contacts,
                wait_seconds=max(0.0, request.wait_seconds),
            )
        except (StoreError, ValueError) as error:
            await abort(context, grpc.StatusCode.INVALID_ARGUMENT, str(error))
        return ai_pb2.AnalyzeMessageResponse(insight=insight_message(analysis))

    async def TrainIntents(
        self, request: ai_pb2.TrainIntentsRequest, context: Any
    ) -> ai_pb2.TrainIntentsResponse:
        await self._access.require(context, request.tenant_id, TRAINER_ROLES)
        examples: dict[str, list[str]] = {}
        for entry in request.intents:
            examples.setdefault(entry.intent, []).extend(entry.examples)
        threshold = request.out_of_scope_threshold if request.HasField("out_of_scope_threshold") else None
        target = (
            request.target_out_of_scope_recall if request.HasField("target_out_of_scope_recall") else None
        )
        try:
            trained = await self._training.train(
                request.tenant_id,
                examples,
                upload_job=request.upload_job,
                threshold=threshold,
                target_recall=target,
            )
        except (TrainingError, StoreError) as error:
            await abort(context, grpc.StatusCode.INVALID_ARGUMENT, str(error))
        except TrainingFailed as error:
            await abort(context, grpc.StatusCode.RESOURCE_EXHAUSTED, str(error))
        return training_reply(trained)

    async def SetSpeechPhrases(
        self, request: ai_pb2.SetSpeechPhrasesRequest, context: Any
    ) -> ai_pb2.SetSpeechPhrasesResponse:
        await self._access.require(context, request.tenant_id, TRAINER_ROLES)
        if self._vocabulary is None:
            await abort(context, grpc.StatusCode.UNIMPLEMENTED, "this ai service transcribes no calls")
        assert self._vocabulary is not None
        try:
            kept = await self._vocabulary.set_phrases(request.tenant_id, list(request.phrases))
        except (PhraseListError, StoreError) as error:
            await abort(context, grpc.StatusCode.INVALID_ARGUMENT, str(error))
        return ai_pb2.SetSpeechPhrasesResponse(phrases=kept)

    async def ReanalyseContacts(
        self, request: ai_pb2.ReanalyseContactsRequest, context: Any
    ) -> ai_pb2.ReanalyseContactsResponse:
        if self._batch is None:
            await abort(context, grpc.StatusCode.UNIMPLEMENTED, "this ai service runs no batch jobs")
        assert self._batch is not None
        return await self._batch.reanalyse(request, context)

    async def ForgetRecentTexts(
        self, request: ai_pb2.ForgetRecentTextsRequest, context: Any
    ) -> ai_pb2.ForgetRecentTextsResponse:
        if self._recent_texts is None:
            await abort(context, grpc.StatusCode.UNIMPLEMENTED, "this ai service keeps no recent texts")
        assert self._recent_texts is not None
        return await self._recent_texts.forget(request, context)

    async def GetIntentModel(
        self, request: ai_pb2.GetIntentModelRequest, context: Any
    ) -> ai_pb2.GetIntentModelResponse:
        await self._access.require(context, request.tenant_id, CALLER_ROLES)
        model = self._training.models.current(request.tenant_id)
        if model is None:
            return ai_pb2.GetIntentModelResponse()
        return ai_pb2.GetIntentModelResponse(
            version=model.version, intents=model.intents, out_of_scope_threshold=model.threshold
        )

    async def LoadKnowledge(
        self, request: ai_pb2.LoadKnowledgeRequest, context: Any
    ) -> ai_pb2.LoadKnowledgeResponse:
        await self._access.require(context, request.tenant_id, TRAINER_ROLES)
        articles = [Article(a.article_id, a.title, a.body, a.language) for a in request.articles]
        if not articles:
            await abort(context, grpc.StatusCode.INVALID_ARGUMENT, "no articles to load")
        try:
            total = await self._knowledge.load(request.tenant_id, articles, request.replace)
        except (KnowledgeError, StoreError) as error:
            await abort(context, grpc.StatusCode.INVALID_ARGUMENT, str(error))
        return ai_pb2.LoadKnowledgeResponse(loaded=len(articles), total=total)

    async def SuggestReplies(
        self, request: ai_pb2.SuggestRepliesRequest, context: Any
    ) -> ai_pb2.SuggestRepliesResponse:
        await self._access.require(context, request.tenant_id, CALLER_ROLES)
        await self._check_text(context, request.text)
        query = request.text
        language = request.language
        if request.contact_id and (not query or not language):
            try:
                if not query:
                    query = await self._analyzer.recent_customer_text(request.tenant_id, request.contact_id)
                if not language:
                    language = await self._analyzer.customer_language(request.tenant_id, request.contact_id)
            except ConversationNotFoundError as error:
                await abort(context, grpc.StatusCode.NOT_FOUND, str(error))
            except StoreError as error:
                await abort(context, grpc.StatusCode.INVALID_ARGUMENT, str(error))
        if not query:
            await abort(
                context, grpc.StatusCode.INVALID_ARGUMENT, "give text or contact_id to suggest replies for"
            )
        if not language:
            language = language_of(query)
        limit = min(request.limit or 3, MAX_SUGGESTIONS)
        suggestions = await self._knowledge.suggest(request.tenant_id, query, limit, language)
        return ai_pb2.SuggestRepliesResponse(
            suggestions=[
                ai_pb2.Suggestion(
                    reply=s.reply,
                    article_id=s.article_id,
                    article_title=s.title,
                    score=s.score,
                    language=s.language,
                )
                for s in suggestions
            ]
        )

    async def SummarizeConversation(
        self, request: ai_pb2.SummarizeConversationRequest, context: Any
    ) -> ai_pb2.SummarizeConversationResponse:
        await self._access.require(context, request.tenant_id, CALLER_ROLES)
        try:
            found = await self._analyzer.summarize(request.tenant_id, request.contact_id)
        except ConversationNotFoundError as error:
            await abort(context, grpc.StatusCode.NOT_FOUND, str(error))
        except StoreError as error:
            await abort(context, grpc.StatusCode.INVALID_ARGUMENT, str(error))
        return ai_pb2.SummarizeConversationResponse(
            summary=found.summary,
            messages=found.messages,
            sentiment_trend=found.sentiment_trend,
            escalation_score=found.escalation_score,
            escalation_reasons=found.escalation_reasons,
        )

    async def WrapUpConversation(
        self, request: ai_pb2.WrapUpConversationRequest, context: Any
    ) -> ai_pb2.WrapUpConversationResponse:
        await self._access.require(context, request.tenant_id, CALLER_ROLES)
        try:
            summary, ticket = await self._wrap_up(request.tenant_id, request.contact_id, request.customer_ref)
        except ConversationNotFoundError as error:
            await abort(context, grpc.StatusCode.NOT_FOUND, str(error))
        except StoreError as error:
            await abort(context, grpc.StatusCode.INVALID_ARGUMENT, str(error))
        return ai_pb2.WrapUpConversationResponse(
            summary=summary, ticket=ticket_message(ticket, request.contact_id)
        )

    async def ListComponents(
        self, request: ai_pb2.ListComponentsRequest, context: Any
    ) -> ai_pb2.ListComponentsResponse:
        await self._access.require(context, request.tenant_id, CALLER_ROLES)
        infos = []
        for registered in self._registry.registered.values():
            spec = registered.spec
            info = ai_pb2.ComponentInfo(name=registered.name, distribution=registered.distribution)
            if spec is not None:
                info.version = spec.version
                info.consumes.extend(sorted(spec.consumes))
                info.produces.extend(sorted(spec.produces))
                info.languages.extend(sorted(spec.languages))
                info.cpu_millis = spec.resources.cpu_millis
                info.memory_mb = spec.resources.memory_mb
            infos.append(info)
        broken = [f"component {n}: {why}" for n, why in sorted(self._registry.broken.items())]
        broken += [why for _, why in sorted(self._catalog.problems.items())]
        return ai_pb2.ListComponentsResponse(components=infos, broken=broken)
