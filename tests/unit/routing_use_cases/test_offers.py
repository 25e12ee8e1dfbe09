"""`Offers` over fakes: an offer reserves the agent and is announced with its rule; accept,
decline and complete each move the contact and the agent's slot together, announced once; an
answer to an unknown reservation changes nothing."""

from __future__ import annotations

import pytest
from fakes.routing_fakes import TENANT, acd_context, decided

from ccmesh.channels import Channel
from routing.domain.agents import AgentProfile, AgentState
from routing.domain.contacts import ContactRecord, ContactStatus
from routing.domain.events import ContactAccepted, ContactCompleted, ContactOffered, OfferDeclined
from routing.domain.queueing import QueueSpec, WaitingContact
from routing.domain.reservations import ReservationError
from routing.service_layer.acd_context import AcdContext
from routing.service_layer.acd_enqueue import Enqueueing
from routing.service_layer.acd_offers import Offers
from routing.service_layer.acd_presence import Presence


async def one_waiting_contact(ctx: AcdContext, capacity: int = 1) -> ContactRecord:
    await Enqueueing(ctx).configure_queue(QueueSpec(TENANT, "support"))
    presence = Presence(ctx, Offers(ctx))
    await presence.upsert_agent(TENANT, AgentProfile("a1", capacity={Channel.WEBCHAT: capacity}))
    await presence.set_agent_state(TENANT, "a1", AgentState.AVAILABLE)
    contact = WaitingContact("c1", "support", Channel.WEBCHAT, 50, 990.0)
    return await Enqueueing(ctx).enqueue(TENANT, contact)


async def test_an_offer_reserves_the_agent_and_says_why() -> None:
    ctx, store, events, _ = acd_context()
    record = await one_waiting_contact(ctx)
    ledger = await Offers(ctx).offer(TENANT, record, decided("c1"), 1000.0)
    assert ledger is not None and ledger.load().count(Channel.WEBCHAT) == 1
    offered = store.contact("c1")
    assert (offered.status, offered.agent_id, offered.deadline) == (ContactStatus.OFFERED, "a1", 1020.0)
    explained = await store.get_decision(TENANT, "c1")
    assert explained is not None and (explained["rule"], explained["agent_id"]) == ("longest_idle", "a1")
    (event,) = events.of(ContactOffered)
    assert isinstance(event, ContactOffered) and event.rule == "longest_idle"


async def test_an_agent_who_filled_up_meanwhile_is_not_over_booked() -> None:
    ctx, store, events, _ = acd_context()
    record = await one_waiting_contact(ctx, capacity=0)
    assert await Offers(ctx).offer(TENANT, record, decided("c1"), 1000.0) is None
    assert store.contact("c1").status is ContactStatus.WAITING  # straight back, not lost
    assert store.ledger("a1").held == () and events.of(ContactOffered) == []
    assert await store.get_decision(TENANT, "c1") is None  # no offer was made: nothing to explain


async def test_accept_then_complete_frees_the_slot() -> None:
    ctx, store, events, clock = acd_context()
    offers = Offers(ctx)
    await offers.offer(TENANT, await one_waiting_contact(ctx), decided("c1"), 1000.0)
    reservation = store.contact("c1").reservation_id
    clock.now = 1005.0
    accepted = await offers.accept(TENANT, "a1", reservation)
    assert (accepted.status, accepted.answered_at) == (ContactStatus.ASSIGNED, 1005.0)
    done = await offers.complete(TENANT, "a1", reservation)
    assert done.status is ContactStatus.CLOSED and store.ledger("a1").held == ()
    assert [type(e) for e in events.events][-2:] == [ContactAccepted, ContactCompleted]
    explained = await store.get_decision(TENANT, "c1")  # still told once the contact is closed
    assert explained is not None and explained["agent_id"] == "a1"


async def test_a_decline_requeues_at_the_old_position_and_remembers_who_passed() -> None:
    ctx, store, events, _ = acd_context()
    offers = Offers(ctx)
    await offers.offer(TENANT, await one_waiting_contact(ctx), decided("c1"), 1000.0)
    reservation = store.contact("c1").reservation_id
    record = await offers.decline(TENANT, "a1", reservation)
    assert (record.status, record.passed_by, record.contact.enqueued_at) == (
        ContactStatus.WAITING,
        ("a1",),
        990.0,
    )
    assert store.ledger("a1").held == ()
    (declined,) = events.of(OfferDeclined)
    assert isinstance(declined, OfferDeclined) and declined.reservation_id == reservation


async def test_an_answer_to_an_unknown_reservation_changes_nothing() -> None:
    ctx, store, events, _ = acd_context()
    await Offers(ctx).offer(TENANT, await one_waiting_contact(ctx), decided("c1"), 1000.0)
    writes, seen = store.writes, len(events.events)
    with pytest.raises(ReservationError):
        await Offers(ctx).accept(TENANT, "a1", "no-such-reservation")
    assert (store.writes, len(events.events)) == (writes, seen)
