"""`close_contact` and `Stats` over fakes: a contact closed elsewhere leaves the ACD (its ringing
offer withdrawn, the slot freed, idempotently); queue statistics count what waits."""

from __future__ import annotations

import pytest
from fakes.routing_fakes import TENANT, acd_context, decided

from ccmesh.channels import Channel
from routing.domain.agents import AcdInputError, AgentProfile, AgentState
from routing.domain.contacts import ContactStatus
from routing.domain.events import ContactAbandoned, OfferWithdrawn
from routing.domain.queueing import QueueSpec, WaitingContact
from routing.service_layer.acd_closing import close_contact
from routing.service_layer.acd_enqueue import Enqueueing
from routing.service_layer.acd_offers import Offers
from routing.service_layer.acd_presence import Presence
from routing.service_layer.acd_stats import Stats


async def test_closing_a_ringing_contact_withdraws_the_offer_once() -> None:
    ctx, store, events, _ = acd_context()
    offers = Offers(ctx)
    presence = Presence(ctx, offers)
    await Enqueueing(ctx).configure_queue(QueueSpec(TENANT, "support"))
    await presence.upsert_agent(TENANT, AgentProfile("a1"))
    await presence.set_agent_state(TENANT, "a1", AgentState.AVAILABLE)
    record = await Enqueueing(ctx).enqueue(TENANT, WaitingContact("c1", "support", Channel.VOICE, 50, 990.0))
    await offers.offer(TENANT, record, decided("c1"), 1000.0)
    for _ in range(2):  # a redelivered ContactClosed changes nothing twice
        closed = await close_contact(store, events, TENANT, "c1", 1001.0)
        assert closed.status is ContactStatus.CLOSED
    assert store.ledger("a1").held == ()
    assert len(events.of(OfferWithdrawn)) == 2  # same event id both times: the stream drops one


async def test_a_customer_who_leaves_the_queue_is_counted_as_abandoned_once() -> None:
    ctx, store, events, _ = acd_context()
    await Enqueueing(ctx).configure_queue(QueueSpec(TENANT, "support"))
    await Enqueueing(ctx).enqueue(TENANT, WaitingContact("c1", "support", Channel.VOICE, 50, 990.0))
    for _ in range(2):  # a redelivered ContactClosed is not a second abandon
        await close_contact(store, events, TENANT, "c1", 1001.0)
    (abandoned,) = events.of(ContactAbandoned)
    assert (abandoned.contact_id, abandoned.queue, abandoned.on_stream) == ("c1", "support", False)
    assert events.of(OfferWithdrawn) == []


async def test_a_close_before_the_hand_off_keeps_the_contact_out() -> None:
    ctx, store, events, _ = acd_context()
    await Enqueueing(ctx).configure_queue(QueueSpec(TENANT, "support"))
    await close_contact(store, events, TENANT, "late", 1000.0)
    late = await Enqueueing(ctx).enqueue(TENANT, WaitingContact("late", "support", Channel.SMS, 50, 1001.0))
    assert late.status is ContactStatus.CLOSED and events.events == []


async def test_queue_stats_count_what_waits_and_refuse_unknown_queues() -> None:
    ctx, _, _, clock = acd_context()
    await Enqueueing(ctx).configure_queue(QueueSpec(TENANT, "support"))
    for n, channel in enumerate((Channel.SMS, Channel.SMS, Channel.WHATSAPP)):
        await Enqueueing(ctx).enqueue(TENANT, WaitingContact(f"c{n}", "support", channel, 50, 900.0 + n))
    clock.now = 1000.0
    stats = Stats(ctx)
    report = await stats.queue_stats(TENANT, "support")
    assert (report.depth, report.longest_wait_seconds, report.staffed_agents) == (3, 100.0, 0)
    assert (await stats.queue_stats(TENANT, "support", channel=Channel.WHATSAPP)).depth == 1
    with pytest.raises(AcdInputError):
        await stats.queue_stats(TENANT, "nope")
    assert await stats.explain(TENANT, "c0") is None
