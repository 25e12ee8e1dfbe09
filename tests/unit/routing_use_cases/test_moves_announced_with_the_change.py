"""Moves, transfers, closes and hand-overs stage their events with the write that makes the
change (the record's outbox): an instance that dies right after the write, before its publish,
still leaves them for a sweeper; what is staged is what is published, and a change refused or
repeated stages nothing."""

from __future__ import annotations

import pytest
from fakes.routing_fakes import TENANT, FakeAcdRecords, acd_context, decided

from ccmesh.channels import Channel
from routing.domain.agents import AgentProfile, AgentState
from routing.domain.contacts import ContactStatus
from routing.domain.events import (
    ContactHandedOver,
    ContactOverflowed,
    ContactQueued,
    ContactTransferred,
    OfferWithdrawn,
    RoutingEvent,
)
from routing.domain.overflow import HandOverRefused, OverflowRule
from routing.domain.queueing import QueueSpec, WaitingContact
from routing.domain.reservations import ReservationError
from routing.service_layer.acd_closing import close_contact
from routing.service_layer.acd_context import AcdContext
from routing.service_layer.acd_enqueue import Enqueueing
from routing.service_layer.acd_handover import HandOver
from routing.service_layer.acd_offers import Offers
from routing.service_layer.acd_presence import Presence
from routing.service_layer.acd_routing import RoutingPass
from routing.service_layer.acd_transfers import Transfer, Transfers


class Died(BaseException):
    """The instance is gone right after its write: nothing after it runs."""


async def dead_sink(event: RoutingEvent) -> None:
    raise Died(type(event).__name__)


def staged_since(store: FakeAcdRecords, mark: int) -> list[str]:
    return [e.outcome for e in store.staged[mark:]]


async def queues(ctx: AcdContext, *names: str) -> None:
    for name in names:
        await Enqueueing(ctx).configure_queue(QueueSpec(TENANT, name))


async def enqueue(ctx: AcdContext, contact_id: str, queue: str = "support") -> None:
    await Enqueueing(ctx).enqueue(TENANT, WaitingContact(contact_id, queue, Channel.WEBCHAT, 50, 900.0))


async def agent_a1(ctx: AcdContext) -> Offers:
    offers = Offers(ctx)
    presence = Presence(ctx, offers)
    await presence.upsert_agent(TENANT, AgentProfile("a1", capacity={Channel.WEBCHAT: 2}))
    await presence.set_agent_state(TENANT, "a1", AgentState.AVAILABLE)
    return offers


async def offered_to_a1(ctx: AcdContext, contact_id: str) -> str:
    """Enqueue the contact and offer it to a1; its reservation id."""
    offers = await agent_a1(ctx)
    await enqueue(ctx, contact_id)
    store = ctx.store
    assert isinstance(store, FakeAcdRecords)
    assert await offers.offer(TENANT, store.contact(contact_id), decided(contact_id), 950.0) is not None
    reservation: str = store.contact(contact_id).reservation_id
    return reservation


@pytest.mark.parametrize(("action", "reason"), [("move", "slow: "), ("widen", "slow: widened to general: ")])
async def test_an_overflow_stages_its_event_with_the_move(action: str, reason: str) -> None:
    ctx, store, events, clock = acd_context()
    await queues(ctx, "billing", "general")
    await enqueue(ctx, "c1", "billing")
    rule = OverflowRule("slow", "billing", "general", wait_seconds_over=60, action=action)
    rules = {(TENANT, "billing"): [rule]}
    mark = len(store.staged)
    clock.now = 1000.0
    ctx.events = dead_sink
    with pytest.raises(Died):
        await RoutingPass(ctx, Offers(ctx), lambda: rules).run()
    (moved,) = store.staged[mark:]
    assert isinstance(moved, ContactOverflowed) and moved.record == store.contact("c1")
    assert (moved.from_queue, moved.reason.startswith(reason)) == ("billing", True)
    assert store.staged == [*events.events, moved]  # the enqueue's, then the unpublished one


async def test_a_transfer_stages_both_its_events_with_the_contact_write() -> None:
    ctx, store, events, _ = acd_context()
    await queues(ctx, "support", "billing")
    reservation = await offered_to_a1(ctx, "c1")
    await Offers(ctx).accept(TENANT, "a1", reservation)
    mark = len(store.staged)
    ctx.events = dead_sink
    with pytest.raises(Died):
        await Transfers(ctx).transfer(Transfer(TENANT, "c1", "a1", "billing", "refund"))
    transferred, queued = store.staged[mark:]
    assert isinstance(transferred, ContactTransferred) and isinstance(queued, ContactQueued)
    assert (transferred.from_queue, transferred.reason, queued.queue) == ("support", "refund", "billing")
    assert transferred.record == queued.record == store.contact("c1")
    assert store.staged[:mark] == events.events


async def test_a_transfer_publishes_what_it_staged_and_a_refused_one_stages_nothing() -> None:
    ctx, store, events, _ = acd_context()
    await queues(ctx, "support", "billing")
    reservation = await offered_to_a1(ctx, "c1")
    await Offers(ctx).accept(TENANT, "a1", reservation)
    with pytest.raises(ReservationError):
        await Transfers(ctx).transfer(Transfer(TENANT, "c1", "a2", "billing"))  # not a2's
    assert store.staged == events.events
    await Transfers(ctx).transfer(Transfer(TENANT, "c1", "a1", "billing"))
    assert staged_since(store, -2) == ["transferred", "queued"]
    assert store.staged == events.events


async def test_closing_a_ringing_contact_stages_the_withdrawal_with_the_close() -> None:
    ctx, store, events, _ = acd_context()
    await queues(ctx, "support")
    await offered_to_a1(ctx, "c1")
    mark = len(store.staged)
    with pytest.raises(Died):
        await close_contact(store, dead_sink, TENANT, "c1", 1001.0)
    (withdrawn,) = store.staged[mark:]
    assert isinstance(withdrawn, OfferWithdrawn) and withdrawn.record == store.contact("c1")
    assert store.contact("c1").status is ContactStatus.CLOSED
    # The redelivered ContactClosed finishes the agent's side and stages nothing again.
    await close_contact(store, events, TENANT, "c1", 1002.0)
    assert store.staged[mark:] == [withdrawn] and store.ledger("a1").held == ()


async def test_closing_a_waiting_or_unknown_contact_stages_nothing() -> None:
    ctx, store, events, _ = acd_context()
    await queues(ctx, "support")
    await enqueue(ctx, "c1")
    mark = len(store.staged)
    await close_contact(store, events, TENANT, "c1", 1001.0)
    await close_contact(store, events, TENANT, "never-queued", 1001.0)
    assert store.staged[mark:] == [] and events.of(OfferWithdrawn) == []


RULE = OverflowRule("to-us", "billing", "us-billing", target_region="us", wait_seconds_over=60)


class Regions:
    def __init__(self, refuse: bool = False) -> None:
        self.refuse = refuse

    async def enqueue(self, region: str, tenant: str, contact: WaitingContact) -> str:
        if self.refuse:
            raise HandOverRefused("unknown queue")
        return "waiting"


async def test_a_hand_over_stages_its_event_with_the_handed_over_write() -> None:
    ctx, store, _events, _ = acd_context()
    await queues(ctx, "billing")
    await enqueue(ctx, "c1", "billing")
    mark = len(store.staged)
    hand_over = HandOver(store, Regions(), dead_sink, deadline_seconds=15, retry_seconds=60)
    with pytest.raises(Died):
        await hand_over.start(TENANT, store.contact("c1"), RULE, "waited 100s > 60s", 1000.0)
    (handed,) = store.staged[mark:]
    assert isinstance(handed, ContactHandedOver)
    assert (handed.to_region, handed.to_queue, handed.rule) == ("us", "us-billing", "to-us")
    assert handed.record == store.contact("c1") and handed.record.status is ContactStatus.TRANSFERRED


async def test_a_refused_hand_over_stages_nothing() -> None:
    ctx, store, events, _ = acd_context()
    await queues(ctx, "billing")
    await enqueue(ctx, "c1", "billing")
    mark = len(store.staged)
    hand_over = HandOver(store, Regions(refuse=True), events, deadline_seconds=15, retry_seconds=60)
    back = await hand_over.start(TENANT, store.contact("c1"), RULE, "waited", 1000.0)
    assert back is not None and back.status is ContactStatus.WAITING
    assert store.staged[mark:] == []
