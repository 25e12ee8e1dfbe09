"""ACD changes whose instance dies between the state write and its announcement: an overflow
move, an agent's transfer, a close while the offer rings and a hand-over to another region. Each
event still reaches the stream, exactly once, a sweep later, sent by a sweeper of another
instance (the records of the change carry it, see `ccmesh.outbox`)."""

from __future__ import annotations

from typing import Any

import pytest
from _platform import eventually
from nats.aio.client import Client as NATS
from nats.js.kv import KeyValue

from ccmesh.outbox import Outbox
from routing.adapters.acd_codec import contact_from_bytes
from routing.adapters.acd_store import AcdStore, KeyMirror, contact_key
from routing.domain.contacts import ContactStatus
from routing.domain.events import (
    ContactHandedOver,
    ContactOverflowed,
    ContactTransferred,
    OfferWithdrawn,
)
from routing.domain.matching import Decision
from routing.domain.overflow import OverflowRule
from routing.domain.queueing import QueueSpec, WaitingContact
from routing.service_layer.acd import AcdService
from routing.service_layer.acd_transfers import Transfer

from ._steps import REGION, TENANT, Crashed, dying_on, event_subject, stored
from .test_acd_announcements import (
    SETTINGS,
    acd_bucket,
    contact,
    one_available_agent,
    publishing,
    staged_on,
    sweeping_instance,
    writer,
)

pytestmark = pytest.mark.timeout(60)
__all__ = ["sweeping_instance"]  # the other instance, whose sweeper sends what is left


async def arrives_once(js: Any, kv: KeyValue, subject: str, contact_id: str, before: int = 0) -> None:
    """The lost event reaches the stream, and the record no longer carries anything."""

    async def arrived() -> bool:
        return await stored(js, subject) > before

    async def swept() -> bool:
        return await staged_on(kv, contact_key(TENANT, contact_id)) == 0

    await eventually(arrived)
    await eventually(swept)
    assert await stored(js, subject) == before + 1


async def assigned_to_a1(service: AcdService, contact_id: str) -> None:
    await one_available_agent(service)
    await service.configure_queue(QueueSpec(TENANT, "billing"))
    record = await service.enqueue(TENANT, contact(contact_id))
    decision = Decision(contact_id, "support", "a1", "longest_idle", 0, ())
    ledger = await service.offers.offer(TENANT, record, decision, service.now())
    assert ledger is not None
    await service.accept(TENANT, "a1", ledger.held[0].reservation_id)


async def test_an_overflow_move_whose_instance_dies_before_announcing_it_arrives_once(
    nc: NATS, sweeping_instance: Outbox
) -> None:
    kv = await acd_bucket(nc)
    js = nc.jetstream()
    healthy = writer(nc, kv, publishing(nc))
    await healthy.configure_queue(QueueSpec(TENANT, "billing"))
    await healthy.configure_queue(QueueSpec(TENANT, "general"))
    await healthy.enqueue(TENANT, WaitingContact("m1", "billing", contact("m1").channel, 50, 0.0))
    rules = {(TENANT, "billing"): [OverflowRule("slow", "billing", "general", wait_seconds_over=60)]}
    mirror = KeyMirror(kv)
    dying = AcdService(
        AcdStore(kv, REGION), mirror, SETTINGS, dying_on((ContactOverflowed,), publishing(nc)),
        overflow_rules=lambda: rules,
    )  # fmt: skip
    await mirror.start()
    try:
        with pytest.raises(Crashed):
            await dying.route_pass()
    finally:
        await mirror.stop()
    moved = contact_from_bytes((await kv.get(contact_key(TENANT, "m1"))).value or b"")
    assert moved.contact.queue == "general"
    await arrives_once(js, kv, event_subject("contact_transferred", "m1"), "m1")


async def test_a_transfer_whose_instance_dies_before_announcing_it_arrives_once(
    nc: NATS, sweeping_instance: Outbox
) -> None:
    kv = await acd_bucket(nc)
    js = nc.jetstream()
    await assigned_to_a1(writer(nc, kv, publishing(nc)), "t1")
    queued = event_subject("contact_queued", "t1")
    assert await stored(js, queued) == 1  # its first enqueue
    dying = writer(nc, kv, dying_on((ContactTransferred,), publishing(nc)))
    with pytest.raises(Crashed):
        await dying.transfer(Transfer(TENANT, "t1", "a1", "billing", "refund"))
    await arrives_once(js, kv, event_subject("contact_transferred", "t1"), "t1")
    assert await stored(js, queued) == 2  # and its arrival in the new queue


async def test_a_close_whose_instance_dies_before_withdrawing_the_offer_arrives_once(
    nc: NATS, sweeping_instance: Outbox
) -> None:
    kv = await acd_bucket(nc)
    js = nc.jetstream()
    healthy = writer(nc, kv, publishing(nc))
    await one_available_agent(healthy)
    record = await healthy.enqueue(TENANT, contact("w1"))
    decision = Decision("w1", "support", "a1", "longest_idle", 0, ())
    assert await healthy.offers.offer(TENANT, record, decision, healthy.now()) is not None
    dying = writer(nc, kv, dying_on((OfferWithdrawn,), publishing(nc)))
    with pytest.raises(Crashed):
        await dying.close_contact(TENANT, "w1")
    await arrives_once(js, kv, event_subject("offer_withdrawn", "w1"), "w1")
    # The redelivered ContactClosed finds the contact closed: the stream keeps one withdrawal.
    closed = await healthy.close_contact(TENANT, "w1")
    assert closed.status is ContactStatus.CLOSED
    assert await stored(js, event_subject("offer_withdrawn", "w1")) == 1


class OtherRegion:
    async def enqueue(self, region: str, tenant: str, contact: WaitingContact) -> str:
        return "waiting"


async def test_a_hand_over_whose_instance_dies_before_announcing_it_arrives_once(
    nc: NATS, sweeping_instance: Outbox
) -> None:
    kv = await acd_bucket(nc)
    js = nc.jetstream()
    healthy = writer(nc, kv, publishing(nc))
    await healthy.configure_queue(QueueSpec(TENANT, "billing"))
    record = await healthy.enqueue(TENANT, WaitingContact("h1", "billing", contact("h1").channel, 50, 0.0))
    dying = AcdService(
        AcdStore(kv, REGION), KeyMirror(kv), SETTINGS, dying_on((ContactHandedOver,), publishing(nc)),
        remote=OtherRegion(),
    )  # fmt: skip
    assert dying.hand_over is not None
    rule = OverflowRule("to-us", "billing", "us-billing", target_region="us", wait_seconds_over=60)
    with pytest.raises(Crashed):
        await dying.hand_over.start(TENANT, record, rule, "waited", dying.now())
    await arrives_once(js, kv, event_subject("contact_overflowed", "h1"), "h1")


async def test_an_offer_whose_instance_dies_before_the_hold_goes_back_within_seconds(nc: NATS) -> None:
    """The contact is offered, the agent's hold never written: another instance's sweep gives it
    back a grace later (not after the 600 s offer timeout) and offers it again, announced once."""
    kv = await acd_bucket(nc)
    js = nc.jetstream()
    await one_available_agent(writer(nc, kv, publishing(nc)))
    dying = writer(nc, kv, publishing(nc))
    record = await dying.enqueue(TENANT, contact("o1"))

    async def gone(*_: Any, **__: Any) -> Any:
        raise Crashed("gone before writing the hold")

    dying.store.update_ledger = gone  # type: ignore[method-assign]
    decision = Decision("o1", "support", "a1", "longest_idle", 0, ())
    with pytest.raises(Crashed):
        await dying.offers.offer(TENANT, record, decision, dying.now())
    lost = contact_from_bytes((await kv.get(contact_key(TENANT, "o1"))).value or b"")
    assert lost.status is ContactStatus.OFFERED
    survivor = writer(nc, kv, publishing(nc))
    await survivor.start()
    try:

        async def offered_again() -> bool:
            now = contact_from_bytes((await kv.get(contact_key(TENANT, "o1"))).value or b"")
            held = (await survivor.store.get_ledger(TENANT, "a1")).held
            return now.reservation_id != lost.reservation_id and [h.reservation_id for h in held] == [
                now.reservation_id
            ]

        await eventually(offered_again)
    finally:
        await survivor.stop()
    assert await stored(js, event_subject("contact_offered", "o1")) == 1
