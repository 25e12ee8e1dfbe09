"""`Presence` over fakes: a new agent starts offline, a new profile keeps state and contacts,
going offline returns ringing offers (the agent did not pass on them), heartbeats are kept."""

from __future__ import annotations

import pytest
from fakes.routing_fakes import TENANT, acd_context, decided

from ccmesh.channels import Channel
from routing.adapters.acd_store import UnknownKey
from routing.domain.agents import AgentProfile, AgentState
from routing.domain.contacts import ContactStatus
from routing.domain.events import ContactRequeued
from routing.domain.queueing import QueueSpec, WaitingContact
from routing.service_layer.acd_enqueue import Enqueueing
from routing.service_layer.acd_offers import Offers
from routing.service_layer.acd_presence import Presence


async def test_a_new_agent_is_offline_and_a_new_profile_keeps_its_state() -> None:
    ctx, _store, _events, _ = acd_context()
    presence = Presence(ctx, Offers(ctx))
    created = await presence.upsert_agent(TENANT, AgentProfile("a1"))
    assert created.state is AgentState.OFFLINE
    await presence.set_agent_state(TENANT, "a1", AgentState.AVAILABLE)
    replaced = await presence.upsert_agent(TENANT, AgentProfile("a1", capacity={Channel.SMS: 3}))
    assert (replaced.state, dict(replaced.profile.capacity)) == (AgentState.AVAILABLE, {Channel.SMS: 3})
    assert (TENANT, "a1") in ctx.mirror.agents and "a1" in ctx.mirror.indexes[TENANT].agents


async def test_going_offline_returns_ringing_offers_without_passing_on_them() -> None:
    ctx, store, events, _ = acd_context()
    offers = Offers(ctx)
    presence = Presence(ctx, offers)
    await Enqueueing(ctx).configure_queue(QueueSpec(TENANT, "support"))
    await presence.upsert_agent(TENANT, AgentProfile("a1"))
    await presence.set_agent_state(TENANT, "a1", AgentState.AVAILABLE)
    record = await Enqueueing(ctx).enqueue(TENANT, WaitingContact("c1", "support", Channel.VOICE, 50, 990.0))
    await offers.offer(TENANT, record, decided("c1"), 1000.0)
    assert len(await presence.held_offers(TENANT, "a1")) == 1

    after = await presence.set_agent_state(TENANT, "a1", AgentState.OFFLINE)
    assert after.held == ()
    back = store.contact("c1")
    assert (back.status, back.passed_by) == (ContactStatus.WAITING, ())
    (requeued,) = events.of(ContactRequeued)
    assert isinstance(requeued, ContactRequeued) and requeued.agent_id == "a1"


async def test_a_heartbeat_is_kept_and_an_unknown_agent_is_refused() -> None:
    ctx, store, _, clock = acd_context()
    presence = Presence(ctx, Offers(ctx))
    await presence.upsert_agent(TENANT, AgentProfile("a1"))
    clock.now = 1234.0
    assert (await presence.heartbeat(TENANT, "a1")).last_heartbeat == 1234.0
    with pytest.raises(UnknownKey):
        await presence.heartbeat(TENANT, "ghost")
    assert (TENANT, "ghost") not in store.ledgers
