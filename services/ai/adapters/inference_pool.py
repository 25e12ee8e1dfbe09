"""A bounded thread pool for model inference, so CPU-bound work never blocks the event loop.

The pipelines are numpy, scikit-learn and lingua code that runs for milliseconds per message;
on the event loop that time would stall every RPC, consumer ack and heartbeat of the process.
The pool is sized from the service's config; BLAS/OpenMP are limited to a few threads for the
whole process, since each inference thread calling a BLAS that starts threads of its own would
oversubscribe the cores. The caller's context (trace span, deadline) travels to the thread.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from threadpoolctl import threadpool_limits

from ai.domain.component import Insights
from ai.domain.pipeline import Pipeline

T = TypeVar("T")


class InferencePool:
    def __init__(self, workers: int, *, blas_threads: int = 1) -> None:
        # Process-wide and kept for the pool's lifetime: training threads share the same bound.
        self._limits = threadpool_limits(limits=blas_threads)
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ai-inference")
        self.workers = workers

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        """`function(*args)` on a pool thread; awaiting it leaves the event loop free."""
        call = functools.partial(contextvars.copy_context().run, function, *args)
        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

    async def run_everywhere(self, function: Callable[[], int]) -> int:
        """`function()` once: the threads share this process's state (caches of recent texts)."""
        return await self.run(function)

    async def analyse(self, pipeline: Pipeline, insights: Insights, start: int = 0) -> Insights:
        """`pipeline.run(insights, start)` on a pool thread; it fills `insights` in place."""
        await self.run(pipeline.run, insights, start)
        return insights

    async def stop(self) -> None:
        """Let running inferences finish (their callers are being drained), then end the threads."""
        await asyncio.to_thread(self._executor.shutdown, wait=True, cancel_futures=True)
        self._limits.restore_original_limits()
