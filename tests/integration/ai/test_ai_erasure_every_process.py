"""Erasure's clearing of remembered texts reaches every process of the AI service: the service
process and each inference worker run the function once, and their answers are summed."""

from __future__ import annotations

import asyncio
import os

import pytest

from ai.adapters.inference_processes import ProcessInferencePool

pytestmark = pytest.mark.timeout(180)

#: Bounds the wait for the workers (loading their models takes seconds, more on a busy node).
GUARD_SECONDS = 120.0


async def test_a_function_runs_once_here_and_once_in_every_worker() -> None:
    pool = ProcessInferencePool(1, encoder_loader=None)
    await pool.start()
    try:
        await asyncio.wait_for(pool.ready(), GUARD_SECONDS)
        assert len(pool.pids) == 1
        # Each process answers with its own id: the sum names every one of them exactly once.
        assert await pool.run_everywhere(os.getpid) == os.getpid() + sum(pool.pids)
        # The workers are back in service afterwards.
        assert await pool.run(os.getpid) in pool.pids
    finally:
        await pool.stop()
