"""One finished contact through the tenant's current pipeline: each customer message analysed
as a live one would be (on the inference workers), then folded into the contact's result."""

from __future__ import annotations

from ai.domain.batch import BatchJob, MessageInsight, Reanalysis, Turn, reanalysis
from ai.domain.component import Insights
from ai.domain.summary import Turn as SummaryTurn
from ai.domain.summary import summarize
from ai.service_layer.analysis import MAX_TEXT_CHARS, Inference, clean
from ai.service_layer.pipelines import PipelineCatalog
from ccpolicy.pii import redact

#: Customer messages analysed per contact: enough for its reason and mood, bounded for long chats.
MAX_MESSAGES = 20


class BatchAnalyser:
    def __init__(self, catalog: PipelineCatalog, inference: Inference) -> None:
        self._catalog = catalog
        self._inference = inference

    async def __call__(self, job: BatchJob, contact_id: str, turns: list[Turn]) -> Reanalysis:
        brand_id = next((t.brand_id for t in turns if t.brand_id), "")
        pipeline = self._catalog.select(job.tenant_id, brand_id)
        produces_redacted = any("redacted_text" in c.spec.produces for c in pipeline.components)
        found: list[MessageInsight] = []
        redacted_turns: list[SummaryTurn] = []
        previous: list[float] = []
        for turn in turns:
            text = clean(turn.text[:MAX_TEXT_CHARS])
            if turn.speaker != "customer" or len(found) >= MAX_MESSAGES:
                # Agent and bot words go into the summary only, never through the classifier.
                redacted_turns.append(SummaryTurn(turn.speaker, redact(text)[0]))
                continue
            insights = await self._inference.analyse(
                pipeline, Insights(tenant_id=job.tenant_id, text=text, previous_sentiments=list(previous))
            )
            if not produces_redacted:
                # A pipeline without a PII step: the batch still redacts, and reports what it found.
                insights.redacted_text, entities = redact(insights.text)
                insights.entities = insights.entities or entities
            previous.append(insights.sentiment)
            found.append(
                MessageInsight(
                    redacted_text=insights.redacted_text,
                    intent=insights.intent,
                    intent_confidence=insights.intent_confidence,
                    out_of_scope=insights.out_of_scope,
                    intent_model_version=insights.intent_model_version,
                    language=insights.language,
                    sentiment=insights.sentiment,
                    escalation_score=insights.escalation_score,
                    entity_kinds=tuple(sorted({e.kind for e in insights.entities})),
                )
            )
            redacted_turns.append(SummaryTurn("customer", insights.redacted_text))
        language = next((f.language for f in found if f.language and f.language != "und"), "en")
        summary = summarize(redacted_turns, language=language) if "summarise" in job.steps else ""
        return reanalysis(job, contact_id, brand_id, found, summary)
