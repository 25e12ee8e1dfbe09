"""Pipeline latency under 4 concurrent streams, as the ai service runs it.

The default pipeline (language, intent, sentiment, PII, escalation) with the multilingual
sentence encoder, the trained sentiment classifier and an intent model with both stages, on the
service's inference pool (default workers, BLAS bounded to one thread): worker processes, as
the service runs by default, and for comparison threads (`CC_INFERENCE_PROCESSES=false`).
Four conversations send their messages one after another, all four at once: CLINC150 test
questions (in scope and out of scope) and UMSAB test tweets of eight languages. Reports
p50/p90/p99 per message (the time the caller waits, transfer to and from the worker
included), and the load average, since on a shared machine the tail follows the load.

    python -m bench.ai.concurrent_streams
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path
from typing import Any

from ai.adapters.inference_pool import InferencePool
from ai.adapters.inference_processes import ProcessInferencePool
from ai.adapters.multilingual_encoder import load_multilingual_encoder
from ai.adapters.registry import ComponentRegistry
from ai.adapters.sentiment_weights import load_sentiment_model
from ai.config import AiConfig
from ai.domain.component import ComponentContext, Insights
from ai.domain.intent import IntentModel
from ai.domain.pipeline import DEFAULT_STEPS, Pipeline, Step, build_pipeline
from bench.ai.umsab import LANGUAGES, read_split
from bench.report import Goal, print_report

REPO = Path(__file__).resolve().parents[2]
CLINC150 = Path(os.environ.get("CC_CLINC150", REPO.parent / "shared/datasets/clinc150/data_full.json"))
STREAMS = 4
MESSAGES_PER_STREAM = 250
#: Examples per intent of the bench's intent model: enough for both stages, quick to embed.
EXAMPLES_PER_INTENT = 20


class _Models:
    def __init__(self, model: IntentModel) -> None:
        self.model = model

    def current(self, tenant_id: str) -> IntentModel:
        return self.model


def _percentile(ordered: list[float], share: float) -> float:
    return ordered[max(0, int(len(ordered) * share) - 1)]


def build() -> tuple[Pipeline, list[str], IntentModel]:
    encoder = load_multilingual_encoder()
    data: dict[str, Any] = json.loads(CLINC150.read_text())
    examples: dict[str, list[str]] = {}
    for text, intent in data["train"]:
        if len(examples.setdefault(intent, [])) < EXAMPLES_PER_INTENT:
            examples[intent].append(text)
    model = IntentModel.train(examples, encoder=encoder)
    context = ComponentContext(
        intent_models=_Models(model), sentence_encoder=encoder, sentiment_model=load_sentiment_model(encoder)
    )
    steps = [Step(name, settings) for name, settings in DEFAULT_STEPS]
    pipeline = build_pipeline("default", steps, ComponentRegistry.discover().factories, context)
    messages = [text for text, _ in data["test"][::10] + data["oos_test"][::5]]
    for language in LANGUAGES:
        messages += read_split(language, "test")[0][:60]
    return pipeline, messages, model


async def measure(
    pipeline: Pipeline, messages: list[str], workers: int, pool: InferencePool | ProcessInferencePool
) -> dict[str, Any]:
    latencies: list[float] = []

    async def stream(offset: int) -> None:
        for index in range(MESSAGES_PER_STREAM):
            text = messages[(offset + index * STREAMS) % len(messages)]
            before = time.perf_counter()
            await pool.analyse(pipeline, Insights(tenant_id="bench", text=text))
            latencies.append((time.perf_counter() - before) * 1000)

    try:
        for text in messages[:100]:  # warm up (each worker builds the pipeline, gets the model)
            await pool.analyse(pipeline, Insights(tenant_id="bench", text=text))
        load_before = os.getloadavg()[0]
        await asyncio.gather(*(stream(offset) for offset in range(STREAMS)))
    finally:
        await pool.stop()
    ordered = sorted(latencies)
    return {
        "streams": STREAMS,
        "workers": workers,
        "messages": len(ordered),
        "p50_ms": round(_percentile(ordered, 0.5), 3),
        "p90_ms": round(_percentile(ordered, 0.9), 3),
        "p99_ms": round(_percentile(ordered, 0.99), 3),
        # Latency tails depend on what else runs on the machine: shown for context.
        "load_average_1m_before": round(load_before, 2),
        "load_average_1m_after": round(os.getloadavg()[0], 2),
    }


async def measure_processes(pipeline: Pipeline, messages: list[str], model: IntentModel) -> dict[str, Any]:
    workers = AiConfig.model_fields["inference_workers"].default
    pool = ProcessInferencePool(
        workers, encoder_loader=load_multilingual_encoder, intent_models=_Models(model), blas_threads=1
    )
    await pool.start()
    await pool.ready()
    return await measure(pipeline, messages, workers, pool)


async def measure_threads(pipeline: Pipeline, messages: list[str]) -> dict[str, Any]:
    workers = AiConfig.model_fields["inference_workers"].default
    return await measure(pipeline, messages, workers, InferencePool(workers, blas_threads=1))


def measure_concurrent_streams() -> tuple[dict[str, Any], list[Goal]]:
    pipeline, messages, model = build()
    results = asyncio.run(measure_processes(pipeline, messages, model))
    results["threads"] = asyncio.run(measure_threads(pipeline, messages))
    results["pipeline"] = pipeline.component_names
    return results, [Goal("pipeline_p99_ms_4_streams", "<=", 20.0, results["p99_ms"])]


def main() -> None:
    print_report("ai-concurrent-streams", *measure_concurrent_streams())


if __name__ == "__main__":
    main()
