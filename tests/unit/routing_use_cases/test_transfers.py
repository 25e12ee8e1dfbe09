"""`Transfers` over fakes: the held contact waits in the target queue as a new arrival, the
agent's slot is free, and both changes are announced; refusals change nothing."""

from __future__ import annotations

import pytest
from fakes.routing_fakes import TENANT, acd_context, decided

from ccmesh.channels import Channel
from routing.domain.agents import AcdInputError, AgentProfile, AgentState
from routing.domain.contacts import ContactStatus
from routing.domain.events import ContactQueued, ContactTransferred
from routing.domain.queueing import QueueSpec, WaitingContact
from routing.domain.reservations import ReservationError
from routing.service_layer.acd_context import AcdContext
from routing.service_layer.acd_enqueue import Enqueueing
from routing.service_layer.acd_offers import Offers
from routing.service_layer.acd_presence import Presence
from routing.service_layer.acd_transfers import Transfer, Transfers


async def held_by_a1(ctx: AcdContext) -> None:
    for name, skills in (("support", frozenset[str]()), ("billing", frozenset({"billing"}))):
        await Enqueueing(ctx).configure_queue(QueueSpec(TENANT, name, required_skills=skills))
    offers = Offers(ctx)
    presence = Presence(ctx, offers)
    await presence.upsert_agent(TENANT, AgentProfile("a1"))
    await presence.set_agent_state(TENANT, "a1", AgentState.AVAILABLE)
    record = await Enqueueing(ctx).enqueue(
        TENANT, WaitingContact("c1", "support", Channel.WEBCHAT, 70, 900.0)
    )
    ledger = await offers.offer(TENANT, record, decided("c1"), 950.0)
    assert ledger is not None
    await offers.accept(TENANT, "a1", ledger.held[0].reservation_id)


async def test_a_transfer_frees_the_slot_and_queues_the_contact_anew() -> None:
    ctx, store, events, clock = acd_context()
    await held_by_a1(ctx)
    clock.now = 1100.0
    record, from_queue = await Transfers(ctx).transfer(Transfer(TENANT, "c1", "a1", "billing", "refund"))
    assert (record.status, record.contact.queue, from_queue) == (ContactStatus.WAITING, "billing", "support")
    assert (record.contact.enqueued_at, record.contact.priority) == (1100.0, 70)
    assert store.ledger("a1").held == ()
    transferred, queued = events.events[-2:]
    assert isinstance(transferred, ContactTransferred) and isinstance(queued, ContactQueued)
    assert (transferred.from_queue, transferred.reason) == ("support", "refund")


@pytest.mark.parametrize(
    ("transfer", "error"),
    [
        (Transfer(TENANT, "c1", "a1", "nope"), AcdInputError),
        (Transfer(TENANT, "c1", "a1", "billing", required_skills=frozenset({"x"})), AcdInputError),
        (Transfer(TENANT, "c1", "a2", "billing"), ReservationError),
    ],
)
async def test_a_refused_transfer_changes_nothing(transfer: Transfer, error: type[Exception]) -> None:
    ctx, store, events, _ = acd_context()
    await held_by_a1(ctx)
    before, seen = dict(store.contacts), len(events.events)
    with pytest.raises(error):
        await Transfers(ctx).transfer(transfer)
    assert store.contacts == before and len(events.events) == seen
    assert store.ledger("a1").held[0].contact_id == "c1"
