"""Inference off the event loop, as the ai service runs it: the pipeline on the inference pool,
awaited from an asyncio loop, one message at a time and with several in flight.

Besides each message's latency, a 1 ms ticker on the loop measures how late the loop gets to
run while the pool works (its lag): near zero when inference leaves the loop free, the whole
inference time when it does not.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

from ai.adapters.inference_pool import InferencePool
from ai.domain.component import Insights
from ai.domain.pipeline import Pipeline

TICK_SECONDS = 0.001


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * share) - 1)]


async def _measure(pipeline: Pipeline, texts: list[str], workers: int, in_flight: int) -> dict[str, Any]:
    pool = InferencePool(workers, blas_threads=1)
    lags: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        while not done.is_set():
            before = time.perf_counter()
            await asyncio.sleep(TICK_SECONDS)
            lags.append(max(0.0, (time.perf_counter() - before - TICK_SECONDS) * 1000))

    latencies: list[float] = []
    slots = asyncio.Semaphore(in_flight)

    async def analyse(text: str) -> None:
        async with slots:
            before = time.perf_counter()
            await pool.run(pipeline.run, Insights(tenant_id="bench", text=text))
            latencies.append((time.perf_counter() - before) * 1000)

    tick = asyncio.create_task(ticker())
    try:
        begun = time.perf_counter()
        await asyncio.gather(*(analyse(text) for text in texts))
        elapsed = time.perf_counter() - begun
    finally:
        done.set()
        await tick
        await pool.stop()
    return {
        "workers": workers,
        "in_flight": in_flight,
        "p50_ms": round(statistics.median(latencies), 3),
        "p99_ms": round(_percentile(latencies, 0.99), 3),
        "messages_per_second": round(len(texts) / elapsed),
        "event_loop_lag_p99_ms": round(_percentile(lags, 0.99), 3) if lags else 0.0,
    }


def measure_off_loop(pipeline: Pipeline, texts: list[str], workers: int) -> dict[str, Any]:
    """One message at a time (the latency a lone caller sees) and `2 x workers` in flight (load)."""
    return {
        "sequential": asyncio.run(_measure(pipeline, texts, workers, 1)),
        "under_load": asyncio.run(_measure(pipeline, texts, workers, 2 * workers)),
    }
