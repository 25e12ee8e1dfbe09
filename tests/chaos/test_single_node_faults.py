"""SIGKILL under load on a region with its own nats-server (as `ccctl up` runs it, routing twice):
a routing instance, the gateway, integration, and nats-server itself (restarted on its store).
After each, every contact whose webhook was accepted was offered, accepted once and closed,
none was offered twice at once, and no agent held more than its capacity."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from bench.platform.fault_audit import StreamStory, audit, undelivered
from bench.platform.faults import (
    FaultRun,
    Phase,
    WebhookReceiver,
    error_lines,
    kill_nats,
    kill_service,
    settle,
    subscribe_webhooks,
    unsent_announcements,
)

# Module-wide: the tests share one region (one start-up), each with customers of its own.
pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(300)]

#: New contacts per second: well below what the region carries, as an operator's chaos test runs.
RATE = 8.0
LOAD_SECONDS = 14.0
FAULT_AFTER = 4.0
#: The recovery bound: every contact offered, accepted and closed within this after the load.
SETTLE_SECONDS = 90.0


async def under_fault(run: FaultRun, fault: Callable[[], Awaitable[Any]]) -> Phase:
    phase = await run.phase(RATE, LOAD_SECONDS, fault, FAULT_AFTER)
    # Some webhooks fail while the fault lasts; the ones answered 201 are the promise to keep.
    assert len(phase.contacts) >= RATE * FAULT_AFTER / 2, phase.answer["statuses"]
    return phase


async def assert_nothing_lost(run: FaultRun, phase: Phase) -> dict[str, StreamStory]:
    stories = await settle(run, phase.contacts, SETTLE_SECONDS)
    found = audit(phase.contacts, run.log, stories)
    unsent = [] if found.ok else await unsent_announcements(run)
    assert found.ok, (
        f"after {phase.fault_detail}: {found.explain(run.log, stories)}\n"
        f"webhook statuses {phase.answer['statuses']}; agent errors {run.log.errors}\n"
        f"still in the ACD's outboxes: {unsent}\n"
        f"service logs: {error_lines(run)}"
    )
    return stories


async def test_routing_instance_killed(single_node_run: FaultRun) -> None:
    run = single_node_run
    phase = await under_fault(run, lambda: kill_service(run, "routing", replica=2))
    await assert_nothing_lost(run, phase)


async def test_gateway_killed(single_node_run: FaultRun) -> None:
    run = single_node_run
    reconnects = run.log.reconnects
    phase = await under_fault(run, lambda: kill_service(run, "gateway"))
    await assert_nothing_lost(run, phase)
    # Every agent lost its socket with the gateway and logged in again to the new one.
    assert run.log.reconnects - reconnects >= len(run.floor.agents)


async def test_integration_killed_delivers_every_webhook(single_node_run: FaultRun) -> None:
    run = single_node_run
    receiver = WebhookReceiver()
    await receiver.start()
    try:
        await subscribe_webhooks(run, receiver.url)
        # The subscription is picked up live: wait until a new contact's webhook arrives.
        deadline = time.monotonic() + SETTLE_SECONDS
        while not receiver.deliveries:
            await run.phase(2, 1.0)
            await asyncio.sleep(1.0)
            assert time.monotonic() < deadline, "the webhook subscription never delivered"
        phase = await under_fault(run, lambda: kill_service(run, "integration"))
        stories = await assert_nothing_lost(run, phase)
        missing = undelivered(phase.contacts, stories, receiver.webhook_ids())
        deadline = time.monotonic() + SETTLE_SECONDS
        while missing and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            missing = undelivered(phase.contacts, stories, receiver.webhook_ids())
        assert missing == [], f"{len(missing)} events never delivered after {phase.fault_detail}"
        # Redeliveries keep their event's id: no delivery of these contacts names another id.
        stored = {i for c in phase.contacts for ids in stories[c].event_ids.values() for i in ids}
        ours = set(phase.contacts)
        strays = [d for d in receiver.deliveries if d[2] in ours and d[0] not in stored]
        assert strays == [], f"deliveries with a webhook-id that is no stored event: {strays[:5]}"
    finally:
        await receiver.stop()


async def test_nats_server_killed_and_restarted(single_node_run: FaultRun) -> None:
    run = single_node_run
    phase = await under_fault(run, lambda: kill_nats(run))
    await assert_nothing_lost(run, phase)
