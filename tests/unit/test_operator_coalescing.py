"""Triggers that arrive while a pass runs fold into one waiting pass, which runs if any still needs it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import kopf
import pytest

from ccoperator import reconcile as reconcile_module
from ccoperator.config import Config
from ccoperator.kube.client import KubeClient
from ccoperator.reconcile import reconcile
from ccoperator.runtime import Runtime

log = logging.getLogger("test")


@pytest.fixture
async def runtime() -> AsyncIterator[Runtime]:
    # The client is never used: the pass itself is replaced below.
    kube = KubeClient(kopf.ConnectionInfo(server="http://127.0.0.1:9"))
    yield Runtime(config=Config(manage_nats=False), kube=kube, dataplane=None)
    await kube.close()


@pytest.fixture
def passes(monkeypatch: pytest.MonkeyPatch) -> tuple[list[str], asyncio.Event]:
    """Replace the pass with one that records its start and holds the lock until released."""
    started: list[str] = []
    release = asyncio.Event()

    async def fake_pass(runtime: Runtime, namespace: str, name: str, logger: Any) -> dict[str, Any]:
        started.append(name)
        await release.wait()
        return {}

    monkeypatch.setattr(reconcile_module, "_reconcile_locked", fake_pass)
    return started, release


async def run_with_triggers(
    runtime: Runtime, passes: tuple[list[str], asyncio.Event], checks: list[Callable[[], bool] | None]
) -> int:
    started, release = passes
    first = asyncio.create_task(reconcile(runtime, "ns", "eu", log))
    await asyncio.sleep(0)  # the first pass holds the lock now
    assert started == ["eu"]
    triggers = [asyncio.create_task(reconcile(runtime, "ns", "eu", log, check)) for check in checks]
    await asyncio.sleep(0)
    release.set()
    await asyncio.gather(first, *triggers)
    return len(started)


async def test_a_trigger_joining_a_waiting_pass_is_not_lost(
    runtime: Runtime, passes: tuple[list[str], asyncio.Event]
) -> None:
    # The waiting trigger's work was done by the running pass; a later one's was not.
    assert await run_with_triggers(runtime, passes, [lambda: False, lambda: True, lambda: False]) == 2


async def test_a_burst_of_triggers_costs_one_more_pass(
    runtime: Runtime, passes: tuple[list[str], asyncio.Event]
) -> None:
    assert await run_with_triggers(runtime, passes, [None, None, None, None, None]) == 2


async def test_triggers_whose_work_is_done_cost_no_pass(
    runtime: Runtime, passes: tuple[list[str], asyncio.Event]
) -> None:
    assert await run_with_triggers(runtime, passes, [lambda: False, lambda: False]) == 1
    assert not runtime.waiting
