"""Overflow at run time: a contact waiting past a rule's threshold moves to the target queue,
keeping its arrival time, and is routed there; or, for a `widen` rule, stays in its queue and
becomes eligible for the target queue's agents too."""

from __future__ import annotations

import pytest
from _platform import eventually
from nats.aio.client import Client as NATS

from ccmesh.channels import Channel
from routing.domain.agents import AgentProfile, AgentState
from routing.domain.contacts import ContactStatus
from routing.domain.overflow import OverflowRule
from routing.domain.queueing import QueueSpec, WaitingContact
from routing.service_layer.acd import AcdService, AcdSettings

from ._harness import TENANT, start_instance, stop_instance

pytestmark = pytest.mark.timeout(60)


async def test_waiting_too_long_moves_the_contact_to_the_overflow_queue(nats_url: str, nc: NATS) -> None:
    rules = {
        (TENANT, "billing"): [OverflowRule("billing-to-general", "billing", "general", wait_seconds_over=60)]
    }
    instance = await start_instance(nats_url, AcdSettings(30.0, 3600, 0.1, region="eu"), run=False)
    base = instance.service
    clock = [1000.0]
    acd = AcdService(
        base.store, base.mirror, base.settings, clock=lambda: clock[0], overflow_rules=lambda: rules
    )
    try:
        await acd.start()
        await acd.configure_queue(QueueSpec(TENANT, "billing", required_skills=frozenset({"billing"})))
        await acd.configure_queue(QueueSpec(TENANT, "general"))
        await acd.upsert_agent(TENANT, AgentProfile("generalist"))
        await acd.set_agent_state(TENANT, "generalist", AgentState.AVAILABLE)
        await acd.enqueue(
            TENANT,
            WaitingContact("c1", "billing", Channel.WEBCHAT, 50, 990.0),
        )

        async def seen() -> bool:
            return (TENANT, "c1") in acd.mirror.contacts and (TENANT, "generalist") in acd.mirror.agents

        await eventually(seen)
        assert await acd.route_pass() == 0  # nobody has the billing skill
        assert acd.mirror.contacts[(TENANT, "c1")].status is ContactStatus.WAITING

        clock[0] = 1051.0  # waited 61 s > 60 s

        async def moved_and_offered() -> bool:
            await acd.route_pass()
            record = acd.mirror.contacts.get((TENANT, "c1"))
            return (
                record is not None and record.contact.queue == "general" and record.agent_id == "generalist"
            )

        await eventually(moved_and_offered, seconds=20)
        assert acd.mirror.contacts[(TENANT, "c1")].contact.enqueued_at == 990.0
    finally:
        await acd.stop()
        await stop_instance(instance)


async def test_widening_keeps_the_contact_in_its_queue_and_lets_the_target_agents_take_it(
    nats_url: str, nc: NATS
) -> None:
    rules = {
        (TENANT, "billing"): [
            OverflowRule("billing-widen", "billing", "general", action="widen", wait_seconds_over=60)
        ]
    }
    instance = await start_instance(nats_url, AcdSettings(30.0, 3600, 0.1, region="eu"), run=False)
    base = instance.service
    clock = [1000.0]
    acd = AcdService(
        base.store, base.mirror, base.settings, clock=lambda: clock[0], overflow_rules=lambda: rules
    )
    try:
        await acd.start()
        await acd.configure_queue(QueueSpec(TENANT, "billing", required_skills=frozenset({"billing"})))
        await acd.configure_queue(QueueSpec(TENANT, "general"))
        await acd.upsert_agent(TENANT, AgentProfile("generalist"))
        await acd.set_agent_state(TENANT, "generalist", AgentState.AVAILABLE)
        await acd.enqueue(TENANT, WaitingContact("c1", "billing", Channel.WEBCHAT, 50, 990.0))

        async def seen() -> bool:
            return (TENANT, "c1") in acd.mirror.contacts and (TENANT, "generalist") in acd.mirror.agents

        await eventually(seen)
        assert await acd.route_pass() == 0  # nobody has the billing skill
        record = acd.mirror.contacts[(TENANT, "c1")]
        assert (record.status, record.widened_to) == (ContactStatus.WAITING, ())

        clock[0] = 1051.0  # waited 61 s > 60 s

        async def widened_and_offered() -> bool:
            await acd.route_pass()
            record = acd.mirror.contacts.get((TENANT, "c1"))
            return record is not None and record.agent_id == "generalist"

        await eventually(widened_and_offered, seconds=20)
        record = acd.mirror.contacts[(TENANT, "c1")]
        assert (record.contact.queue, record.widened_to) == ("billing", ("general",))
        assert record.contact.enqueued_at == 990.0
        # Written with the offer; the view may show the offer a moment before the explanation.
        explained = await eventually(lambda: acd.explain(TENANT, "c1"))
        assert explained["queue"] == "general"
    finally:
        await acd.stop()
        await stop_instance(instance)
