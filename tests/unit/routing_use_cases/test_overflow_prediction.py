"""`predictedServiceLevelUnder` fires on the prediction supervisors see in `GetQueueStats`.

The queue needs the `billing` skill. An available agent without it is no staff of the queue:
the prediction (eligible staff, measured handle time, 15-minute arrivals) says nobody will be
answered, and the rule moves the waiting contacts. An agent with the skill is staff: the level
is high, nothing moves, and the contact is offered here.
"""

from __future__ import annotations

import pytest
from fakes.routing_fakes import TENANT, acd_context

from ccmesh.channels import Channel
from routing.domain.agents import AgentProfile, AgentState
from routing.domain.contacts import ContactStatus
from routing.domain.events import ContactOffered, ContactOverflowed
from routing.domain.overflow import OverflowRule
from routing.domain.queueing import QueueSpec, WaitingContact
from routing.service_layer.acd_context import AcdContext
from routing.service_layer.acd_enqueue import Enqueueing
from routing.service_layer.acd_offers import Offers
from routing.service_layer.acd_prediction import predicted_service_level
from routing.service_layer.acd_presence import Presence
from routing.service_layer.acd_routing import RoutingPass
from routing.service_layer.acd_stats import Stats

BILLING = QueueSpec(TENANT, "billing", required_skills=frozenset({"billing"}))
RULE = OverflowRule("billing-sla", "billing", "general", predicted_service_level_under=0.8)
RULES = {(TENANT, "billing"): [RULE]}


async def world(skills: dict[str, int], agents: int = 1) -> AcdContext:
    """Two queues, `agents` available agents with `skills`, two web chat contacts in billing."""
    ctx, _, _, clock = acd_context()
    clock.now = 1000.0
    enqueueing = Enqueueing(ctx)
    await enqueueing.configure_queue(BILLING)
    await enqueueing.configure_queue(QueueSpec(TENANT, "general"))
    presence = Presence(ctx, Offers(ctx))
    for n in range(agents):
        profile = AgentProfile(f"agent-{n}", skills=skills, capacity={Channel.WEBCHAT: 2})
        await presence.upsert_agent(TENANT, profile)
        await presence.set_agent_state(TENANT, profile.agent_id, AgentState.AVAILABLE)
    for n in range(2):
        await enqueueing.enqueue(TENANT, WaitingContact(f"c{n}", "billing", Channel.WEBCHAT, 50, 990.0 + n))
    return ctx


async def test_the_rule_reads_the_level_get_queue_stats_shows() -> None:
    for skills, agents in (({"sales": 3}, 1), ({"billing": 3}, 1), ({"billing": 3}, 3)):
        ctx = await world(skills, agents)
        shown = (await Stats(ctx).queue_stats(TENANT, "billing")).predicted_service_level
        assert predicted_service_level(ctx.mirror, TENANT, BILLING, ctx.now()) == pytest.approx(shown)


async def test_without_eligible_staff_the_predicted_level_falls_under_and_contacts_overflow() -> None:
    ctx = await world({"sales": 3}, agents=3)
    report = await Stats(ctx).queue_stats(TENANT, "billing")
    # The tenant has available agents, but none who can take billing's contacts.
    assert report.staffed_agents == 0 and report.predicted_service_level == 0.0
    await RoutingPass(ctx, Offers(ctx), lambda: RULES).run()
    records = [ctx.mirror.contacts[(TENANT, f"c{n}")] for n in range(2)]
    assert [r.contact.queue for r in records] == ["general", "general"]
    assert all(r.contact.enqueued_at < 1000.0 for r in records)  # the arrival time is kept
    moved = ctx.events.of(ContactOverflowed)  # type: ignore[attr-defined]
    assert len(moved) == 2
    assert all("predicted service level 0.00 < 0.8" in m.reason for m in moved)


async def test_with_eligible_staff_the_level_holds_and_the_contacts_are_served_here() -> None:
    ctx = await world({"billing": 3}, agents=3)
    report = await Stats(ctx).queue_stats(TENANT, "billing")
    assert report.staffed_agents == 3 and report.predicted_service_level >= 0.8
    assert await RoutingPass(ctx, Offers(ctx), lambda: RULES).run() == 2
    records = [ctx.mirror.contacts[(TENANT, f"c{n}")] for n in range(2)]
    assert [r.contact.queue for r in records] == ["billing", "billing"]
    assert all(r.status is ContactStatus.OFFERED for r in records)
    assert ctx.events.of(ContactOverflowed) == []  # type: ignore[attr-defined]
    assert len(ctx.events.of(ContactOffered)) == 2  # type: ignore[attr-defined]
