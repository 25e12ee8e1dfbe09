"""Analysis runs its pipeline on the inference pool: the event loop stays free meanwhile, and
no more pipelines run at once than the pool has workers."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from ai.adapters.inference_pool import InferencePool
from ai.domain.component import Insights
from ai.service_layer.analysis import Analyzer

#: A guard against hanging, not a timing assertion.
GUARD_SECONDS = 30.0


class GatedPipeline:
    """Blocks each run until the test opens the gate; records threads and concurrency."""

    name = "gated"
    component_names = ["gated"]
    components: list[Any] = []
    text_steps = 0

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.started = threading.Semaphore(0)
        self.threads: list[str] = []
        self.running = 0
        self.most_at_once = 0
        self._lock = threading.Lock()

    def run(self, insights: Insights, start: int = 0) -> None:
        with self._lock:
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
            self.threads.append(threading.current_thread().name)
        self.started.release()
        try:
            assert self.gate.wait(GUARD_SECONDS), "the test never opened the gate"
            insights.sentiment = 0.25
        finally:
            with self._lock:
                self.running -= 1


class OneCatalog:
    def __init__(self, pipeline: GatedPipeline) -> None:
        self.pipeline = pipeline

    def select(self, tenant_id: str, brand_id: str) -> GatedPipeline:
        return self.pipeline


def analyzer(pipeline: GatedPipeline, pool: InferencePool) -> Analyzer:
    # No contact id in these calls: the conversation store is never touched.
    return Analyzer(OneCatalog(pipeline), store=None, inference=pool)  # type: ignore[arg-type]


async def test_the_event_loop_keeps_running_while_a_pipeline_runs() -> None:
    pipeline, pool = GatedPipeline(), InferencePool(2)
    try:
        analysis = asyncio.create_task(
            analyzer(pipeline, pool).analyze("acme", "", "my card was charged twice")
        )
        # Waiting in a thread: if the pipeline ran on the loop, the loop would be stuck in it.
        assert await asyncio.to_thread(pipeline.started.acquire, timeout=GUARD_SECONDS)
        # The loop is free: this coroutine runs while the pipeline is still inside `run`.
        assert not analysis.done() and pipeline.running == 1
        pipeline.gate.set()
        result = await analysis
        assert result.insights.sentiment == 0.25 and result.pipeline == "gated"
        assert pipeline.threads[0].startswith("ai-inference")
        # The original text is never what is kept: redacted even without a PII step.
        assert result.insights.redacted_text
    finally:
        pipeline.gate.set()
        await pool.stop()


async def test_no_more_pipelines_run_at_once_than_the_pool_has_workers() -> None:
    pipeline, pool = GatedPipeline(), InferencePool(2)
    try:
        service = analyzer(pipeline, pool)
        analyses = [asyncio.create_task(service.analyze("acme", "", f"message {i}")) for i in range(5)]
        for _ in range(2):
            assert await asyncio.to_thread(pipeline.started.acquire, timeout=GUARD_SECONDS)
        assert pipeline.running == 2  # the other three wait for a worker
        pipeline.gate.set()
        results = await asyncio.gather(*analyses)
        assert len(results) == 5 and pipeline.most_at_once == 2
    finally:
        pipeline.gate.set()
        await pool.stop()
