"""Analyse messages, follow conversations, summarise them and wrap them up.

Conversation state holds only redacted text (never the original), so summaries, tickets and
anything read back from the bucket carry no personal data beyond the region's own service.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from ai.domain.component import Insights
from ai.domain.escalation import escalation
from ai.domain.language import detect
from ai.domain.pipeline import Pipeline
from ai.domain.sentiment import trend
from ai.domain.summary import Turn, summarize, wrap_up
from ai.domain.ticket import Ticket, build_ticket
from ai.service_layer.metrics import AiMetrics
from ai.service_layer.pipelines import PipelineCatalog
from ai.service_layer.ports import Conversations
from ai.service_layer.recent_analyses import RecentAnalyses
from ccpolicy.pii import Entity, redact

#: Longer texts belong in a document pipeline, not a synchronous call.
MAX_TEXT_CHARS = 100_000
#: The steps left after reusing a text's findings run here, not on a worker, when they took at
#: most this long on the text before: the way to a worker and back costs more.
INLINE_SECONDS = 0.0005

T = TypeVar("T")


class Inference(Protocol):
    """Runs CPU-bound model work away from the event loop: in worker processes
    (`ai.adapters.inference_processes`) or on threads (`ai.adapters.inference_pool`)."""

    async def run(self, function: Callable[..., T], *args: Any) -> T: ...

    async def analyse(self, pipeline: Pipeline, insights: Insights, start: int = 0) -> Insights:
        """`pipeline.run(insights, start)`; the returned `Insights` is the filled-in one (in
        another process it is a copy, not the object passed)."""
        ...


class ConversationNotFoundError(LookupError):
    pass


@dataclass(frozen=True)
class Analysis:
    pipeline: str
    components: list[str]
    insights: Insights
    sentiment_trend: float


@dataclass(frozen=True)
class ConversationSummary:
    summary: str
    messages: int
    sentiment_trend: float
    escalation_score: float
    escalation_reasons: list[str]


def clean(text: str) -> str:
    """Control characters (binary garbage) become spaces; the rest is analysed as it is."""
    return (
        "".join(c if c.isprintable() or c in "\n\t" else " " for c in text)
        if not text.isprintable()
        else text
    )


class Analyzer:
    def __init__(
        self,
        catalog: PipelineCatalog,
        store: Conversations,
        inference: Inference,
        metrics: AiMetrics | None = None,
        recent: RecentAnalyses | None = None,
    ) -> None:
        self._catalog = catalog
        self._store = store
        self._inference = inference
        self._metrics = metrics or AiMetrics()
        self._recent = recent or RecentAnalyses()

    def forget_recent_texts(self) -> int:
        """Drop the texts analysed a moment ago and what was found in them (erasure); how many."""
        return self._recent.forget()

    async def analyze(
        self,
        tenant_id: str,
        brand_id: str,
        text: str,
        *,
        contact_id: str = "",
        message_id: str = "",
        speaker: str = "customer",
        repeat_contacts: int = 0,
        wait_seconds: float = 0.0,
    ) -> Analysis:
        if len(text) > MAX_TEXT_CHARS:
            raise ValueError(f"text has {len(text)} characters; the maximum is {MAX_TEXT_CHARS}")
        previous: list[float] = []
        if contact_id:
            conversation = await self._store.conversation(tenant_id, contact_id)
            if conversation:
                previous = [t["sentiment"] for t in conversation["turns"] if t["speaker"] == "customer"]
        insights = Insights(
            tenant_id=tenant_id,
            text=clean(text),
            previous_sentiments=previous,
            repeat_contacts=repeat_contacts,
            wait_seconds=wait_seconds,
        )
        pipeline = self._catalog.select(tenant_id, brand_id)
        # The same text analysed a moment ago (the gateway's language ask for a new contact, then
        # the stream's copy of its message): only the steps that read the conversation run again.
        recalled = await self._recent.recall(pipeline, insights)
        if recalled is not None:
            if recalled.rest_seconds <= INLINE_SECONDS:
                # Microseconds (escalation's arithmetic): less than the way to a worker and back.
                pipeline.run(insights, recalled.start)
            else:
                insights = await self._inference.analyse(pipeline, insights, recalled.start)
        else:
            with self._recent.analysing(pipeline, insights) as finished:
                # Milliseconds of numpy and lingua per message: on a pool worker, so the event
                # loop keeps serving other calls, consumers and heartbeats while it runs.
                insights = await self._inference.analyse(pipeline, insights)
                finished(insights)
        self._metrics.stages(tenant_id, pipeline.name, insights.stage_seconds)
        if not any("redacted_text" in c.spec.produces for c in pipeline.components):
            # A pipeline without a PII step still never stores or publishes the original text.
            insights.redacted_text, _ = redact(insights.text)
        if contact_id:
            await self._store.append_turn(
                tenant_id,
                contact_id,
                {
                    "message_id": message_id,
                    "speaker": speaker,
                    "text": insights.redacted_text,
                    "sentiment": insights.sentiment,
                    "intent": insights.intent,
                    "language": insights.language,
                    "entity_kinds": sorted({e.kind for e in insights.entities}),
                    "escalation": insights.escalation_score,
                    "escalation_reasons": insights.escalation_reasons,
                },
            )
        direction = trend([*previous, insights.sentiment]) if speaker == "customer" else trend(previous)
        return Analysis(pipeline.name, pipeline.component_names, insights, direction)

    async def _turns(self, tenant_id: str, contact_id: str) -> list[dict[str, Any]]:
        conversation = await self._store.conversation(tenant_id, contact_id)
        if not conversation or not conversation["turns"]:
            raise ConversationNotFoundError(f"no conversation {contact_id!r} for tenant {tenant_id!r}")
        return list(conversation["turns"])

    async def summarize(self, tenant_id: str, contact_id: str) -> ConversationSummary:
        turns = await self._turns(tenant_id, contact_id)
        sentiments = [float(t["sentiment"]) for t in turns if t["speaker"] == "customer"]
        last = turns[-1]
        return ConversationSummary(
            summary=summarize(
                [Turn(str(t["speaker"]), str(t["text"])) for t in turns],
                language=conversation_language(turns),
            ),
            messages=len(turns),
            sentiment_trend=trend(sentiments),
            escalation_score=float(last.get("escalation", 0.0)),
            escalation_reasons=[str(r) for r in last.get("escalation_reasons") or []],
        )

    async def wrap_up(self, tenant_id: str, contact_id: str, customer_ref: str) -> tuple[str, Ticket]:
        turns = await self._turns(tenant_id, contact_id)
        customer = [t for t in turns if t["speaker"] == "customer"]
        sentiments = [float(t["sentiment"]) for t in customer]
        intents = [str(t["intent"]) for t in customer if t["intent"] and t["intent"] != "out_of_scope"]
        # The intent said most often; on a tie, the one the customer came with (said first).
        main_intent = (
            max(intents, key=lambda i: (intents.count(i), -intents.index(i))) if intents else "out_of_scope"
        )
        direction = trend(sentiments)
        summary = wrap_up(
            [Turn(str(t["speaker"]), str(t["text"])) for t in turns],
            main_intent,
            direction,
            conversation_language(turns),
        )
        score, _ = escalation(sentiments[-1] if sentiments else 0.0, sentiments[:-1], main_intent, 0, 0.0)
        kinds = sorted({str(k) for t in turns for k in t.get("entity_kinds") or []})
        ticket = build_ticket(
            intent=main_intent,
            summary=summary,
            first_message=str(customer[0]["text"]) if customer else "",
            escalation_score=max(score, max((float(t.get("escalation", 0)) for t in turns), default=0)),
            sentiment=sum(sentiments[-2:]) / len(sentiments[-2:]) if sentiments else 0.0,
            entities=[Entity(0, 0, kind) for kind in kinds],
            customer_ref=customer_ref,
        )
        await self._store.forget_conversation(tenant_id, contact_id)
        return summary, ticket

    async def record_reply(
        self, tenant_id: str, contact_id: str, message_id: str, text: str, speaker: str
    ) -> None:
        """Add an agent's or bot's reply to the conversation (redacted, with its language), so
        summaries hold both sides. Not analysed further: intents and moods are the customer's."""
        if not text.strip() or not contact_id:
            return
        redacted, found = await self._inference.run(redact, clean(text[:MAX_TEXT_CHARS]))
        language, _ = await self._inference.run(detect, redacted)
        await self._store.append_turn(
            tenant_id,
            contact_id,
            {
                "message_id": message_id,
                "speaker": speaker,
                "text": redacted,
                "sentiment": 0.0,
                "intent": "",
                "language": language,
                "entity_kinds": sorted({e.kind for e in found}),
                "escalation": 0.0,
                "escalation_reasons": [],
            },
        )

    async def recent_customer_text(self, tenant_id: str, contact_id: str, turns: int = 3) -> str:
        """The customer's last few (redacted) messages: the query for agent assist."""
        found = await self._turns(tenant_id, contact_id)
        texts = [str(t["text"]) for t in found if t["speaker"] == "customer"]
        return " ".join(texts[-turns:])

    async def customer_language(self, tenant_id: str, contact_id: str) -> str:
        """The language the customer writes in: the most frequent one of their messages ("" unknown)."""
        found = await self._turns(tenant_id, contact_id)
        return conversation_language(found)


def conversation_language(turns: list[dict[str, Any]]) -> str:
    """The customer's language in stored turns: the most frequent determined one, the latest on a tie."""
    languages = [str(t.get("language") or "") for t in turns if t["speaker"] == "customer"]
    known = [code for code in languages if code and code != "und"]
    if not known:
        return ""
    return max(reversed(known), key=known.count)
