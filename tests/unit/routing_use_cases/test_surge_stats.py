"""`Stats` under surge, over fakes: every queue's depth and the wait a new arrival there can
expect (what the gateway's back-pressure reads), and the staffing answer in the queue report."""

from __future__ import annotations

import math

import pytest
from fakes.routing_fakes import TENANT, acd_context

from ccmesh.channels import Channel
from routing.domain.agents import AgentProfile, AgentState
from routing.domain.erlang_a import wait_at_position
from routing.domain.handle_time import DEFAULT_ANY_CHANNEL_SECONDS
from routing.domain.prediction import DEFAULT_ANY_CHANNEL_PATIENCE
from routing.domain.queueing import QueueSpec, WaitingContact
from routing.service_layer.acd_enqueue import Enqueueing
from routing.service_layer.acd_offers import Offers
from routing.service_layer.acd_presence import Presence
from routing.service_layer.acd_stats import Stats


async def surge_world() -> Stats:
    """Support: 6 SMS waiting, two agents on SMS (busy); billing: 1 waiting, nobody staffs it."""
    ctx, _, _, clock = acd_context()
    enqueueing = Enqueueing(ctx)
    await enqueueing.configure_queue(QueueSpec(TENANT, "support"))
    await enqueueing.configure_queue(QueueSpec(TENANT, "billing", required_skills=frozenset({"billing"})))
    await enqueueing.configure_queue(QueueSpec("globex", "support"))
    presence = Presence(ctx, Offers(ctx))
    for agent in ("a1", "a2"):
        await presence.upsert_agent(TENANT, AgentProfile(agent, capacity={Channel.SMS: 1}))
        await presence.set_agent_state(TENANT, agent, AgentState.BUSY)
    for n in range(6):
        await enqueueing.enqueue(TENANT, WaitingContact(f"s{n}", "support", Channel.SMS, 50, 900.0 + n))
    await enqueueing.enqueue(TENANT, WaitingContact("b0", "billing", Channel.SMS, 50, 950.0))
    await enqueueing.enqueue("globex", WaitingContact("g0", "support", Channel.SMS, 50, 950.0))
    clock.now = 1000.0
    return Stats(ctx)


async def test_queue_depths_give_each_queue_of_the_tenant_its_waiting_and_the_next_wait() -> None:
    stats = await surge_world()
    billing, support = stats.queue_depths(TENANT)
    assert (billing.queue, billing.waiting, billing.estimated_wait_seconds) == ("billing", 1, math.inf)
    assert (support.queue, support.waiting, support.longest_wait_seconds) == ("support", 6, 100.0)
    # Across channels, before anything was measured: the default handle time, and a patience of
    # the time waited so far plus the default (nobody gave up yet), as `prediction` says.
    patience = sum(1000.0 - (900.0 + n) for n in range(6)) + DEFAULT_ANY_CHANNEL_PATIENCE
    assert support.estimated_wait_seconds == pytest.approx(
        wait_at_position(7, 2, DEFAULT_ANY_CHANNEL_SECONDS, patience)
    )
    assert [d.queue for d in stats.queue_depths("globex")] == ["support"]
    assert stats.queue_depths("nobody") == []


async def test_the_queue_report_answers_how_many_more_agents_reach_the_target() -> None:
    stats = await surge_world()
    report = await stats.queue_stats(TENANT, "support")
    assert report.staffed_agents == 2
    assert report.staffing.reachable and report.staffing.agents >= 2
    assert report.additional_agents_needed == report.staffing.agents - 2
    assert report.next_arrival_wait_seconds > 0
    # Seventh in line behind two busy agents: an answer within 20 s is unlikely, not impossible.
    assert 0.0 < report.next_arrival_service_level < 0.1
    unstaffed = await stats.queue_stats(TENANT, "billing")
    assert (unstaffed.next_arrival_wait_seconds, unstaffed.next_arrival_service_level) == (math.inf, 0.0)
    assert unstaffed.additional_agents_needed == unstaffed.staffing.agents >= 1
