"""Every ACD change that is announced stages its events with the write that makes it (the
record's outbox), so a crash before the publish cannot lose them: the staged events are exactly
the published ones, and a change refused or repeated stages nothing."""

from __future__ import annotations

from fakes.routing_fakes import TENANT, acd_context, decided

from ccmesh.channels import Channel
from routing.domain.agents import AgentProfile, AgentState
from routing.domain.contacts import ContactRecord
from routing.domain.events import ContactOffered, ContactQueued, OfferTimedOut
from routing.domain.queueing import QueueSpec, WaitingContact
from routing.service_layer.acd_context import AcdContext
from routing.service_layer.acd_enqueue import Enqueueing
from routing.service_layer.acd_offers import Offers
from routing.service_layer.acd_presence import Presence


async def waiting(ctx: AcdContext, capacity: int = 1) -> ContactRecord:
    await Enqueueing(ctx).configure_queue(QueueSpec(TENANT, "support"))
    presence = Presence(ctx, Offers(ctx))
    await presence.upsert_agent(TENANT, AgentProfile("a1", capacity={Channel.WEBCHAT: capacity}))
    await presence.set_agent_state(TENANT, "a1", AgentState.AVAILABLE)
    return await Enqueueing(ctx).enqueue(TENANT, WaitingContact("c1", "support", Channel.WEBCHAT, 50, 990.0))


async def test_an_enqueue_stages_its_contact_queued_once() -> None:
    ctx, store, events, _ = acd_context()
    await waiting(ctx)
    assert [type(e) for e in store.staged] == [ContactQueued]
    assert store.staged == events.events
    await Enqueueing(ctx).enqueue(TENANT, WaitingContact("c1", "support", Channel.WEBCHAT, 50, 990.0))
    assert len(store.staged) == 1  # a repeated enqueue announces nothing, so stages nothing


async def test_a_hand_off_already_announced_stages_nothing() -> None:
    ctx, store, events, _ = acd_context()
    await Enqueueing(ctx).configure_queue(QueueSpec(TENANT, "support"))
    contact = WaitingContact("c2", "support", Channel.WEBCHAT, 50, 990.0)
    await Enqueueing(ctx).enqueue(TENANT, contact, announced=True)
    assert store.staged == [] and events.events == []


async def test_an_offer_stages_its_contact_offered_with_the_hold() -> None:
    ctx, store, events, _ = acd_context()
    record = await waiting(ctx)
    store.staged.clear()
    events.events.clear()
    await Offers(ctx).offer(TENANT, record, decided("c1"), 1000.0)
    (staged,) = store.staged
    assert isinstance(staged, ContactOffered)
    assert staged.record.reservation_id == store.ledger("a1").held[0].reservation_id
    assert store.staged == events.events


async def test_an_offer_the_agent_has_no_room_for_stages_nothing() -> None:
    ctx, store, _events, _ = acd_context()
    record = await waiting(ctx, capacity=0)
    store.staged.clear()
    assert await Offers(ctx).offer(TENANT, record, decided("c1"), 1000.0) is None
    assert store.staged == []


async def test_answers_stage_what_they_publish() -> None:
    ctx, store, events, _ = acd_context()
    offers = Offers(ctx)
    await offers.offer(TENANT, await waiting(ctx), decided("c1"), 1000.0)
    reservation = store.contact("c1").reservation_id
    await offers.give_back(TENANT, "a1", "c1", reservation, OfferTimedOut)
    await offers.offer(TENANT, store.contact("c1"), decided("c1"), 1030.0)
    reservation = store.contact("c1").reservation_id
    await offers.accept(TENANT, "a1", reservation)
    await offers.complete(TENANT, "a1", reservation)
    assert [e.outcome for e in store.staged] == [
        "queued",
        "offered",
        "timeout",
        "offered",
        "accepted",
        "closed",
    ]
    assert store.staged == events.events
