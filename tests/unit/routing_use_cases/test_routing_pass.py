"""`RoutingPass` over fakes: capacity per channel as configured decides who is offered what;
an overflow rule moves a contact that waited too long and announces it."""

from __future__ import annotations

from dataclasses import replace

from fakes.routing_fakes import TENANT, acd_context

from ccmesh.channels import Channel
from ccmesh.kv import KVError
from routing.domain.agents import AgentProfile, AgentState, CapacityGroup
from routing.domain.contacts import ContactStatus
from routing.domain.events import ContactOffered, ContactOverflowed
from routing.domain.overflow import OverflowRule
from routing.domain.queueing import QueueSpec, WaitingContact
from routing.service_layer.acd_context import AcdContext
from routing.service_layer.acd_enqueue import Enqueueing
from routing.service_layer.acd_offers import Offers
from routing.service_layer.acd_presence import Presence
from routing.service_layer.acd_routing import IN_FLIGHT_SECONDS, RoutingPass

MESSAGES = [("s1", Channel.SMS), ("w1", Channel.WHATSAPP), ("s2", Channel.SMS), ("w2", Channel.WHATSAPP)]


async def alice(ctx: AcdContext, *groups: CapacityGroup) -> None:
    await Enqueueing(ctx).configure_queue(QueueSpec(TENANT, "support"))
    presence = Presence(ctx, Offers(ctx))
    profile = AgentProfile("alice", capacity={Channel.SMS: 2, Channel.WHATSAPP: 2}, groups=groups)
    await presence.upsert_agent(TENANT, profile)
    await presence.set_agent_state(TENANT, "alice", AgentState.AVAILABLE)


async def enqueue_all(ctx: AcdContext, contacts: list[tuple[str, Channel]]) -> None:
    for n, (contact_id, channel) in enumerate(contacts):
        await Enqueueing(ctx).enqueue(TENANT, WaitingContact(contact_id, "support", channel, 50, 900.0 + n))


async def test_sms_2_and_whatsapp_2_take_two_of_each_and_a_fifth_waits() -> None:
    ctx, store, events, _ = acd_context()
    await alice(ctx)
    await enqueue_all(ctx, [*MESSAGES, ("s3", Channel.SMS)])
    assert await RoutingPass(ctx, Offers(ctx)).run() == 4
    assert {c for (_, c), r in store.contacts.items() if r.status is ContactStatus.OFFERED} == {
        "s1",
        "w1",
        "s2",
        "w2",
    }
    assert store.contact("s3").status is ContactStatus.WAITING
    load = store.ledger("alice").load()
    assert (load.count(Channel.SMS), load.count(Channel.WHATSAPP)) == (2, 2)
    assert len(events.of(ContactOffered)) == 4
    assert await RoutingPass(ctx, Offers(ctx)).run() == 0  # nothing changes until a slot frees


async def test_a_capacity_group_caps_the_channels_together() -> None:
    ctx, store, _, _ = acd_context()
    await alice(ctx, CapacityGroup("messaging", frozenset({Channel.SMS, Channel.WHATSAPP}), 3))
    await enqueue_all(ctx, MESSAGES)
    assert await RoutingPass(ctx, Offers(ctx)).run() == 3
    assert store.contact("w2").status is ContactStatus.WAITING  # the last in line


async def test_an_overflow_rule_moves_a_contact_that_waited_too_long() -> None:
    ctx, store, events, clock = acd_context()
    await Enqueueing(ctx).configure_queue(QueueSpec(TENANT, "billing"))
    await Enqueueing(ctx).configure_queue(QueueSpec(TENANT, "general"))
    await Enqueueing(ctx).enqueue(TENANT, WaitingContact("c1", "billing", Channel.SMS, 50, 900.0))
    rule = OverflowRule("slow", "billing", "general", wait_seconds_over=60)
    rules = {(TENANT, "billing"): [rule]}
    clock.now = 1000.0
    await RoutingPass(ctx, Offers(ctx), lambda: rules).run()
    assert store.contact("c1").contact.queue == "general"
    (moved,) = events.of(ContactOverflowed)
    assert isinstance(moved, ContactOverflowed) and moved.from_queue == "billing"
    assert moved.reason.startswith("slow: ")


async def test_a_contact_whose_offer_failed_without_a_write_is_offered_again() -> None:
    # The bucket elected a leader while the offer was written: nothing was stored, so the view
    # never shows a newer record of the contact. It must not be held back from later passes.
    ctx, store, events, clock = acd_context()
    await alice(ctx)
    await enqueue_all(ctx, [("s1", Channel.SMS)])
    real_update = store.update_contact

    async def leaderless(*args: object, **kwargs: object) -> object:
        raise KVError("no leader for the bucket")

    store.update_contact = leaderless  # type: ignore[method-assign]
    routing = RoutingPass(ctx, Offers(ctx))
    assert await routing.run() == 0
    store.update_contact = real_update  # type: ignore[method-assign]
    assert await routing.run() == 0  # a moment later: still taken as in flight
    clock.now += IN_FLIGHT_SECONDS
    assert await routing.run() == 1
    assert store.contact("s1").status is ContactStatus.OFFERED
    assert [e.record.contact.contact_id for e in events.of(ContactOffered)] == ["s1"]


async def test_a_view_that_missed_a_write_takes_the_stored_record_and_stops_offering() -> None:
    # The bucket holds the contact offered (by a write the watch never showed); the view still
    # has it waiting. After a refused offer and the in-flight wait, the view reads the record.
    ctx, store, events, clock = acd_context()
    await alice(ctx)
    await enqueue_all(ctx, [("s1", Channel.SMS)])
    waiting = store.contact("s1")
    store.contacts[(TENANT, "s1")] = replace(waiting, status=ContactStatus.CLOSED)
    routing = RoutingPass(ctx, Offers(ctx))
    assert await routing.run() == 0  # refused by the store: closed, not waiting
    assert ctx.mirror.waiting[(TENANT, "support")]
    clock.now += IN_FLIGHT_SECONDS
    assert await routing.run() == 0
    assert ctx.mirror.refreshed == [(TENANT, "s1")]  # type: ignore[attr-defined]
    assert not ctx.mirror.waiting.get((TENANT, "support"))
    assert not events.of(ContactOffered)
