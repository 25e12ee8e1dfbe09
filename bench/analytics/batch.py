"""Batch re-analysis (`ccctl ai batch`): its throughput and what it costs live traffic.

The ai service's batch use case (`ContactReanalysis` + `BatchAnalyser`) with the default
pipeline (language, intent, sentiment, PII, escalation) on the service's inference pool (worker
processes, the default number), an intent model trained on CLINC150 (TF-IDF stage; `--encoder`
adds the sentence encoder as the service loads it). The contacts (two customer messages and an
agent reply each, CLINC150 test questions) are listed, read and checkpointed in memory, and the
results kept in memory: the figure is the AI's work, NATS's rates are in FACTS.md.

- Throughput: `--contacts` (default 10,000) re-analysed at full speed (no rate limit, one
  contact per worker at once), stopped at half way as a kill would stop it and resumed by a
  fresh use case from the checkpoint; every contact must come out exactly once.
- Live latency: single messages at `--live-rate` per second through the same pool for
  `--seconds`, alone and then beside a batch paced as the service paces it by default
  (CC_BATCH_RATE_PER_SECOND, CC_BATCH_CONCURRENCY); goal: p99 beside the batch at most 1.2 times
  p99 alone.

    python -m bench.analytics.batch [--contacts 10000] [--seconds 20] [--encoder]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

from ai.adapters.inference_processes import ProcessInferencePool
from ai.adapters.multilingual_encoder import load_multilingual_encoder
from ai.adapters.registry import ComponentRegistry
from ai.adapters.sentiment_weights import load_sentiment_model
from ai.config import AiConfig
from ai.domain.batch import Checkpoint, Reanalysis, Turn, batch_job
from ai.domain.component import ComponentContext, Insights
from ai.domain.intent import IntentModel
from ai.domain.pipeline import DEFAULT_STEPS, Pipeline, Step, build_pipeline
from ai.service_layer.batch import ContactReanalysis
from ai.service_layer.batch_analysis import BatchAnalyser
from ai.service_layer.batch_throttle import Throttle
from ai.service_layer.pipelines import PipelineCatalog
from bench.report import Goal, print_report

REPO = Path(__file__).resolve().parents[2]
CLINC150 = Path(os.environ.get("CC_CLINC150", REPO.parent / "shared/datasets/clinc150/data_full.json"))
EXAMPLES_PER_INTENT = 20
#: The live p99 beside a batch may be at most this many times the p99 alone.
LIVE_P99_RATIO_GOAL = 1.2


class _Models:
    def __init__(self, model: IntentModel) -> None:
        self.model = model

    def current(self, tenant_id: str) -> IntentModel:
        return self.model


class _Catalog:
    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline

    def select(self, tenant_id: str, brand_id: str) -> Pipeline:
        return self.pipeline


class _Contacts:
    def __init__(self, count: int) -> None:
        self.ids = [f"c{n:06d}" for n in range(count)]

    async def page(
        self, tenant_id: str, start: str, end: str, time_zone: str, page_token: str, page_size: int
    ) -> tuple[list[str], str]:
        first = int(page_token[1:]) + 1 if page_token else 0
        page = self.ids[first : first + page_size]
        return page, (page[-1] if page and first + page_size < len(self.ids) else "")


class _Turns:
    def __init__(self, texts: list[str]) -> None:
        self.texts = texts

    async def turns(self, tenant_id: str, contact_id: str) -> list[Turn]:
        n = int(contact_id[1:])
        first, second = self.texts[n % len(self.texts)], self.texts[(n * 7 + 3) % len(self.texts)]
        return [
            Turn("customer", first),
            Turn("agent", "Let me check that for you."),
            Turn("customer", second),
        ]


class _Checkpoints:
    def __init__(self) -> None:
        self.saved: dict[tuple[str, str], str] = {}

    async def load(self, tenant_id: str, job_id: str) -> Checkpoint | None:
        found = self.saved.get((tenant_id, job_id))
        return None if found is None else Checkpoint.from_json(json.loads(found))

    async def save(self, tenant_id: str, job_id: str, checkpoint: Checkpoint) -> None:
        self.saved[(tenant_id, job_id)] = json.dumps(checkpoint.to_json())


class _Results:
    def __init__(self, signal_at: int = 0) -> None:
        self.published: list[Reanalysis] = []
        self._signal_at = signal_at
        self.reached = asyncio.Event()

    async def publish(self, results: Sequence[Reanalysis]) -> None:
        self.published.extend(results)
        if self._signal_at and len(self.published) >= self._signal_at:
            self.reached.set()


def build(with_encoder: bool) -> tuple[Pipeline, list[str], IntentModel]:
    encoder = load_multilingual_encoder() if with_encoder else None
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
    return pipeline, [text for text, _ in data["test"]], model


def use_case(pool: ProcessInferencePool, pipeline: Pipeline, texts: list[str], checkpoints: _Checkpoints,
             results: _Results, throttle: Throttle) -> ContactReanalysis:  # fmt: skip
    analyser = BatchAnalyser(cast(PipelineCatalog, _Catalog(pipeline)), pool)
    return ContactReanalysis(_Turns(texts), checkpoints, results, analyser, throttle)


async def measure_throughput(
    pool: ProcessInferencePool, pipeline: Pipeline, texts: list[str], contacts: int
) -> dict[str, Any]:
    job = batch_job("bench", "throughput", "2026-03-01", "2026-04-01", "UTC", [])
    listed, checkpoints, results = _Contacts(contacts), _Checkpoints(), _Results(signal_at=contacts // 2)
    unpaced = Throttle(1e9, pool.workers)
    began, began_cpu = time.perf_counter(), time.process_time()
    first = asyncio.create_task(
        use_case(pool, pipeline, texts, checkpoints, results, unpaced).run(job, contacts, listed)
    )
    await results.reached.wait()
    first.cancel()  # a kill half way: only the checkpoint store survives
    await asyncio.gather(first, return_exceptions=True)
    stopped_at = len(results.published)
    # A cancelled call ends its worker (the pool starts another): the kill costs the resume that.
    resumed = use_case(pool, pipeline, texts, checkpoints, results, Throttle(1e9, pool.workers))
    progress = await resumed.run(job, contacts, listed)
    seconds = time.perf_counter() - began
    per_contact = Counter(r.contact_id for r in results.published)
    return {
        "batch_contacts": contacts,
        "batch_contacts_per_second": round(contacts / seconds, 1),
        "batch_seconds": round(seconds, 2),
        "batch_service_cpu_seconds": round(time.process_time() - began_cpu, 2),
        "batch_killed_after": stopped_at,
        "batch_resumed_done": progress.done and progress.processed == contacts,
        "batch_doubles": sum(n - 1 for n in per_contact.values()),
        "batch_missing": contacts - len(per_contact),
    }


async def warm_up(pool: ProcessInferencePool, pipeline: Pipeline, texts: list[str]) -> None:
    """Messages through every worker until each has loaded its models (also a replacement that
    a cancelled call's worker got): the first calls of a worker are not what traffic sees."""
    for offset in range(0, 40 * pool.workers, pool.workers):
        await asyncio.gather(
            *(
                pool.analyse(pipeline, Insights(tenant_id="warm", text=t))
                for t in texts[offset : offset + pool.workers]
            )
        )


def _p99(latencies: list[float]) -> float:
    ordered = sorted(latencies)
    return ordered[max(0, int(len(ordered) * 0.99) - 1)] * 1000


async def live_latencies(pool: ProcessInferencePool, pipeline: Pipeline, texts: list[str], rate: float,
                         seconds: float) -> list[float]:  # fmt: skip
    """Messages at `rate` per second (Poisson arrivals, as customers write), each timed."""
    rng = random.Random(7)
    latencies: list[float] = []

    async def one(text: str) -> None:
        began = time.perf_counter()
        await pool.analyse(pipeline, Insights(tenant_id="live", text=text))
        latencies.append(time.perf_counter() - began)

    tasks = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        tasks.append(asyncio.create_task(one(rng.choice(texts))))
        await asyncio.sleep(rng.expovariate(rate))
    await asyncio.gather(*tasks)
    return latencies


async def measure_live(
    pool: ProcessInferencePool,
    pipeline: Pipeline,
    texts: list[str],
    rate: float,
    seconds: float,
    batch_rate: float,
    batch_concurrency: int,
) -> dict[str, Any]:
    alone = await live_latencies(pool, pipeline, texts, rate, seconds)
    paced = Throttle(batch_rate, batch_concurrency)
    results = _Results()
    job = batch_job("bench", "beside-live", "2026-03-01", "2026-04-01", "UTC", [])
    batch = asyncio.create_task(
        use_case(pool, pipeline, texts, _Checkpoints(), results, paced).run(
            job, 1_000_000, _Contacts(1_000_000)
        )
    )
    began = time.perf_counter()
    beside = await live_latencies(pool, pipeline, texts, rate, seconds)
    paced_rate = len(results.published) / (time.perf_counter() - began)
    batch.cancel()
    await asyncio.gather(batch, return_exceptions=True)
    await warm_up(pool, pipeline, texts)  # the replacement of the worker the cancel ended
    p99_alone, p99_beside = _p99(alone), _p99(beside)
    return {
        "live_rate_per_second": rate,
        "live_messages": len(alone) + len(beside),
        "live_p99_ms_alone": round(p99_alone, 2),
        "live_p99_ms_beside_batch": round(p99_beside, 2),
        "live_p99_ratio": round(p99_beside / p99_alone, 3),
        "paced_batch_contacts_per_second": round(paced_rate, 1),
        "batch_rate_setting": batch_rate,
        "batch_concurrency_setting": batch_concurrency,
    }


async def measure(
    contacts: int,
    seconds: float,
    live_rate: float,
    with_encoder: bool,
    batch_rate: float | None = None,
    batch_concurrency: int | None = None,
) -> dict[str, Any]:
    """The figures; the batch beside live traffic is paced by the service's defaults unless given."""
    defaults = AiConfig.model_fields
    batch_rate = batch_rate or defaults["batch_rate_per_second"].default
    batch_concurrency = batch_concurrency or defaults["batch_concurrency"].default
    pipeline, texts, model = build(with_encoder)
    workers = AiConfig.model_fields["inference_workers"].default
    pool = ProcessInferencePool(
        workers,
        encoder_loader=load_multilingual_encoder if with_encoder else None,
        intent_models=_Models(model),
        blas_threads=1,
    )
    await pool.start()
    await pool.ready()
    try:
        await warm_up(pool, pipeline, texts)
        load_before = os.getloadavg()[0]
        live = await measure_live(pool, pipeline, texts, live_rate, seconds, batch_rate, batch_concurrency)
        throughput = await measure_throughput(pool, pipeline, texts, contacts)
    finally:
        await pool.stop()
    return {
        **throughput,
        **live,
        "workers": workers,
        "encoder": with_encoder,
        "pipeline": pipeline.component_names,
        # The tail follows what else runs on the machine: shown for context.
        "load_average_1m_before": round(load_before, 2),
        "load_average_1m_after": round(os.getloadavg()[0], 2),
    }


def goals(results: dict[str, Any]) -> list[Goal]:
    return [
        Goal("live_p99_ratio", "<=", LIVE_P99_RATIO_GOAL, results["live_p99_ratio"]),
        Goal("batch_doubles", "<=", 0, results["batch_doubles"]),
        Goal("batch_missing", "<=", 0, results["batch_missing"]),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.analytics.batch")
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=20.0, help="live measurement, each of the two")
    parser.add_argument("--live-rate", type=float, default=20.0, help="live messages per second")
    parser.add_argument(
        "--encoder", action="store_true", help="load the sentence encoder as the service does"
    )
    parser.add_argument("--batch-rate", type=float, default=None, help="default: CC_BATCH_RATE_PER_SECOND's")
    parser.add_argument("--batch-concurrency", type=int, default=None, help="default: CC_BATCH_CONCURRENCY's")
    args = parser.parse_args()
    results = asyncio.run(
        measure(
            args.contacts, args.seconds, args.live_rate, args.encoder, args.batch_rate, args.batch_concurrency
        )
    )
    print_report("analytics-batch", results, goals(results))


if __name__ == "__main__":
    main()
