"""`Sweeper` over fakes: an offer past its deadline goes back to the queue, a lapsed heartbeat
sets the agent offline, and a slot held for a contact that moved on is freed."""

from __future__ import annotations

from fakes.routing_fakes import TENANT, acd_context, decided

from ccmesh.channels import Channel
from routing.domain.agents import AgentProfile, AgentState
from routing.domain.contacts import ContactStatus
from routing.domain.events import OfferTimedOut
from routing.domain.queueing import QueueSpec, WaitingContact
from routing.domain.reservations import AgentLedger
from routing.service_layer.acd_context import AcdContext, AcdSettings
from routing.service_layer.acd_enqueue import Enqueueing
from routing.service_layer.acd_offers import Offers
from routing.service_layer.acd_presence import Presence
from routing.service_layer.acd_sweeping import Sweeper

SETTINGS = AcdSettings(offer_timeout_seconds=20.0, heartbeat_timeout_seconds=30.0, region="eu")


async def offered_to_a1(ctx: AcdContext) -> tuple[Offers, Presence, AgentLedger]:
    offers = Offers(ctx)
    presence = Presence(ctx, offers)
    await Enqueueing(ctx).configure_queue(QueueSpec(TENANT, "support"))
    await presence.upsert_agent(TENANT, AgentProfile("a1"))
    await presence.set_agent_state(TENANT, "a1", AgentState.AVAILABLE)
    await presence.heartbeat(TENANT, "a1")
    record = await Enqueueing(ctx).enqueue(TENANT, WaitingContact("c1", "support", Channel.EMAIL, 50, 990.0))
    ledger = await offers.offer(TENANT, record, decided("c1"), ctx.now())
    assert ledger is not None
    return offers, presence, ledger


async def test_an_offer_past_its_deadline_goes_back_to_the_queue() -> None:
    ctx, store, events, clock = acd_context(SETTINGS)
    offers, presence, _ = await offered_to_a1(ctx)
    sweeper = Sweeper(ctx, offers, presence)
    assert await sweeper.sweep() == 0  # nothing is due yet
    clock.now += 21.0
    await presence.heartbeat(TENANT, "a1")
    assert await sweeper.sweep() >= 1
    back = store.contact("c1")
    assert (back.status, back.passed_by) == (ContactStatus.WAITING, ("a1",))
    assert store.ledger("a1").held == () and len(events.of(OfferTimedOut)) == 1


async def test_a_lapsed_heartbeat_sets_the_agent_offline() -> None:
    ctx, store, _, clock = acd_context(SETTINGS)
    offers, presence, _ = await offered_to_a1(ctx)
    clock.now += 31.0
    await Sweeper(ctx, offers, presence).sweep()
    assert store.ledger("a1").state is AgentState.OFFLINE
    assert store.contact("c1").status is ContactStatus.WAITING


async def test_a_slot_held_for_a_contact_that_moved_on_is_freed() -> None:
    ctx, store, _, _ = acd_context(SETTINGS)
    offers, presence, _ = await offered_to_a1(ctx)
    # An instance stopped between a close's two writes: the contact is closed, the slot held.
    store.lagging = True
    record = store.contact("c1")
    await store.update_contact(TENANT, "c1", lambda old: old.__class__(record.contact, ContactStatus.CLOSED))
    store.lagging = False
    ctx.mirror.put_contact(TENANT, "c1", store.contact("c1"))
    await Sweeper(ctx, offers, presence).sweep()
    assert store.ledger("a1").held == ()
