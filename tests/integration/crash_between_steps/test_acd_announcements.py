"""An ACD change whose instance dies between the state write and its announcement: the offer
(reservation + ContactOffered) and the enqueue (contact record + ContactQueued). The event still
reaches the stream, exactly once, a sweep later (not after the offer timeout), sent by a sweeper
of another instance; and an announcement the writer did publish is not stored twice when a
sweeper sends it again."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from _platform import eventually
from nats.aio.client import Client as NATS
from nats.js.kv import KeyValue

from ccmesh import naming
from ccmesh.channels import Channel
from ccmesh.events import EventPublisher
from ccmesh.kv import ensure_bucket
from ccmesh.outbox import Outbox, entries_of, js_publisher
from routing.adapters.acd_event_codec import to_protobuf
from routing.adapters.acd_store import AcdOutboxMirror, AcdStore, KeyMirror, agent_key, contact_key
from routing.domain.agents import AgentProfile, AgentState
from routing.domain.contacts import ContactStatus
from routing.domain.events import ContactOffered, ContactQueued, RoutingEvent
from routing.domain.matching import Decision
from routing.domain.queueing import QueueSpec, WaitingContact
from routing.service_layer.acd import AcdService, AcdSettings

from ._steps import REGION, SWEEP_AFTER, TENANT, Crashed, dying_on, event_subject, region_streams, stored

pytestmark = pytest.mark.timeout(60)

#: Far longer than the test may wait: only the sweeper can deliver the lost offer in time.
OFFER_TIMEOUT = 600.0
SETTINGS = AcdSettings(OFFER_TIMEOUT, 3600, 0.05, region=REGION)


async def acd_bucket(nc: NATS) -> KeyValue:
    js = nc.jetstream()
    await region_streams(js)
    return await ensure_bucket(js, naming.acd_bucket(REGION), history=1)


@pytest.fixture
async def sweeping_instance(nc: NATS) -> AsyncIterator[Outbox]:
    """Another routing instance: its mirror feeds its outbox, whose sweeper sends what is left."""
    kv = await acd_bucket(nc)
    outbox = Outbox(kv, js_publisher(nc.jetstream()), after_seconds=SWEEP_AFTER)
    mirror = AcdOutboxMirror(kv, outbox)
    await mirror.start()
    await outbox.start()
    try:
        yield outbox
    finally:
        await outbox.stop()
        await mirror.stop()


def writer(nc: NATS, kv: KeyValue, events: Any) -> AcdService:
    return AcdService(AcdStore(kv, REGION), KeyMirror(kv), SETTINGS, events)


def publishing(nc: NATS) -> Any:
    publisher = EventPublisher(nc.jetstream(), REGION)

    async def publish(event: RoutingEvent) -> None:
        await publisher.publish(to_protobuf(event, REGION))

    return publish


async def staged_on(kv: KeyValue, key: str, *, but_agent_states: bool = False) -> int:
    """Entries `key` carries; `but_agent_states`: not counting the agent's state changes (the
    store stages them itself, for the outbox's sweeper to send)."""
    with contextlib.suppress(Exception):
        entries = entries_of((await kv.get(key)).value)
        return len([e for e in entries if not (but_agent_states and ".agent_state_changed." in e.subject)])
    return 0


async def one_available_agent(service: AcdService) -> None:
    await service.configure_queue(QueueSpec(TENANT, "support"))
    await service.upsert_agent(TENANT, AgentProfile("a1", capacity={Channel.WEBCHAT: 1}))
    await service.set_agent_state(TENANT, "a1", AgentState.AVAILABLE)


def contact(contact_id: str) -> WaitingContact:
    return WaitingContact(contact_id, "support", Channel.WEBCHAT, 50, 0.0)


async def test_an_offer_whose_instance_dies_before_announcing_it_arrives_once(
    nc: NATS, sweeping_instance: Outbox
) -> None:
    kv = await acd_bucket(nc)
    js = nc.jetstream()
    service = writer(nc, kv, dying_on((ContactOffered,), publishing(nc)))
    await one_available_agent(service)
    record = await service.enqueue(TENANT, contact("c1"))
    decision = Decision("c1", "support", "a1", "longest_idle", 0, ())
    with pytest.raises(Crashed):
        await service.offers.offer(TENANT, record, decision, service.now())
    # The reservation is written and nothing announced it yet.
    ledger = await service.store.get_ledger(TENANT, "a1")
    assert len(ledger.held) == 1
    offered = event_subject("contact_offered", "c1")
    await eventually(lambda: _at_least_one(js, offered))
    await eventually(lambda: _none_staged(kv, agent_key(TENANT, "a1")))
    assert await stored(js, offered) == 1
    # The reservation and its contact are untouched by the sweep: the agent may answer now.
    assert (await service.store.get_ledger(TENANT, "a1")).held == ledger.held
    accepted = await writer(nc, kv, publishing(nc)).accept(TENANT, "a1", ledger.held[0].reservation_id)
    assert accepted.status is ContactStatus.ASSIGNED


async def test_an_enqueue_whose_instance_dies_before_announcing_it_arrives_once(
    nc: NATS, sweeping_instance: Outbox
) -> None:
    kv = await acd_bucket(nc)
    js = nc.jetstream()
    healthy = writer(nc, kv, publishing(nc))
    await one_available_agent(healthy)
    dying = writer(nc, kv, dying_on((ContactQueued,), publishing(nc)))
    with pytest.raises(Crashed):
        await dying.enqueue(TENANT, contact("c2"))
    queued = event_subject("contact_queued", "c2")
    await eventually(lambda: _at_least_one(js, queued))
    await eventually(lambda: _none_staged(kv, contact_key(TENANT, "c2")))
    assert await stored(js, queued) == 1
    # A repeated enqueue (the hand-off redelivered) finds the contact and announces nothing more.
    await healthy.enqueue(TENANT, contact("c2"))
    assert await stored(js, queued) == 1


async def test_announcements_the_writer_published_are_not_stored_twice(
    nc: NATS, sweeping_instance: Outbox
) -> None:
    kv = await acd_bucket(nc)
    js = nc.jetstream()
    service = writer(nc, kv, publishing(nc))
    await one_available_agent(service)
    record = await service.enqueue(TENANT, contact("c3"))
    decision = Decision("c3", "support", "a1", "longest_idle", 0, ())
    assert await service.offers.offer(TENANT, record, decision, service.now()) is not None
    # The sweeper sends both again (duplicates, dropped) and then takes them out of the records.
    await eventually(lambda: _none_staged(kv, agent_key(TENANT, "a1")))
    await eventually(lambda: _none_staged(kv, contact_key(TENANT, "c3")))
    assert sweeping_instance.sent >= 2
    assert await stored(js, event_subject("contact_queued", "c3")) == 1
    assert await stored(js, event_subject("contact_offered", "c3")) == 1


async def _at_least_one(js: Any, subject: str) -> bool:
    return await stored(js, subject) >= 1


async def _none_staged(kv: KeyValue, key: str) -> bool:
    return await staged_on(kv, key) == 0


async def test_a_record_written_again_drops_what_its_writer_already_sent(nc: NATS) -> None:
    kv = await acd_bucket(nc)
    store = AcdStore(kv, REGION)
    publish = publishing(nc)

    async def publish_and_remember(event: RoutingEvent) -> None:
        await publish(event)
        store.sent.add(to_protobuf(event, REGION).event_id)

    service = AcdService(store, KeyMirror(kv), SETTINGS, publish_and_remember)
    await one_available_agent(service)
    record = await service.enqueue(TENANT, contact("c4"))
    assert await staged_on(kv, contact_key(TENANT, "c4")) == 1  # no sweeper here: still carried
    decision = Decision("c4", "support", "a1", "longest_idle", 0, ())
    assert await service.offers.offer(TENANT, record, decision, service.now()) is not None
    # The offer's contact write dropped the queued event its writer had sent; the hold still
    # carries the offer until the ledger is written again.
    assert await staged_on(kv, contact_key(TENANT, "c4")) == 0
    assert await staged_on(kv, agent_key(TENANT, "a1"), but_agent_states=True) == 1
    await service.heartbeat(TENANT, "a1")
    assert await staged_on(kv, agent_key(TENANT, "a1"), but_agent_states=True) == 0


async def test_a_sweeper_takes_out_what_its_own_process_sent_without_sending_it_again(nc: NATS) -> None:
    kv = await acd_bucket(nc)
    js = nc.jetstream()
    store = AcdStore(kv, REGION)
    publish = publishing(nc)

    async def publish_and_remember(event: RoutingEvent) -> None:
        await publish(event)
        store.sent.add(to_protobuf(event, REGION).event_id)

    outbox = Outbox(kv, js_publisher(js), after_seconds=SWEEP_AFTER, sent=store.sent)
    mirror = AcdOutboxMirror(kv, outbox)
    await mirror.start()
    await outbox.start()
    try:
        service = AcdService(store, KeyMirror(kv), SETTINGS, publish_and_remember)
        await one_available_agent(service)
        await service.enqueue(TENANT, contact("c5"))
        await eventually(lambda: _none_staged(kv, contact_key(TENANT, "c5")))
        assert outbox.sent == 0
        assert await stored(js, event_subject("contact_queued", "c5")) == 1
    finally:
        await outbox.stop()
        await mirror.stop()
