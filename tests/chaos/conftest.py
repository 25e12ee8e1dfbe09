"""Chaos tier: the region under load while its processes are SIGKILLed (see
`bench/platform/faults.py`, which the fault bench shares).

Every test drives signed webhooks from new customers into a region started as `ccctl up` starts
it, with agents that accept at once and hold each contact a moment, kills one process, lets it
come back, and then audits every contact whose webhook was accepted: offered, accepted once,
closed, never offered twice at once, no agent over its capacity. The waits are generous upper
bounds (a recovery bound), never timing assertions.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from bench.platform.faults import FaultRun, close_fault_run, open_fault_run, warm_up


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def single_node_run(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[FaultRun]:
    """The region on its own nats-server (as `ccctl up`), routing running twice, under a
    module's faults one after another."""
    data_dir: Path = tmp_path_factory.mktemp("chaos-single")
    run = await open_fault_run(data_dir, replicas={"routing": 2})
    try:
        await warm_up(run)
        yield run
    finally:
        await close_fault_run(run)
