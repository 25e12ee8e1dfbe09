"""Routing's cost does not grow with the contacts that went before.

Contacts run the whole way through the use cases (enqueue, routing pass, accept, complete) over
in-memory fakes; afterwards the working set holds only what is live, so its sizes after 100,000
finished contacts are those after 1,000, and an idle loop turn (routing pass and sweep) visits
no contact record and no agent ledger beyond the few the heaps name. Counted, not timed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from fakes.routing_fakes import TENANT, FakeAcdView, acd_context

from ccmesh.channels import Channel
from routing.domain import contacts as contact_rules
from routing.domain import reservations as ledger_rules
from routing.domain.agents import AgentProfile, AgentState
from routing.domain.contacts import ContactRecord, ContactStatus
from routing.domain.queueing import QueueSpec, WaitingContact
from routing.domain.reservations import AgentLedger, Held, ReservationState
from routing.service_layer.acd_context import AcdSettings
from routing.service_layer.acd_enqueue import Enqueueing
from routing.service_layer.acd_offers import Offers
from routing.service_layer.acd_presence import Presence
from routing.service_layer.acd_routing import RoutingPass
from routing.service_layer.acd_sweeping import Sweeper

SETTINGS = AcdSettings(offer_timeout_seconds=20.0, heartbeat_timeout_seconds=30.0, region="eu")
AGENTS = 20


class CountingDict(dict[Any, Any]):
    """A dict that counts every read of a value and every walk over it."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.reads = 0

    def __getitem__(self, key: Any) -> Any:
        self.reads += 1
        return super().__getitem__(key)

    def get(self, key: Any, default: Any = None) -> Any:
        self.reads += 1
        return super().get(key, default)

    def __iter__(self) -> Iterator[Any]:
        self.reads += len(self)
        return super().__iter__()

    def items(self) -> Any:
        self.reads += len(self)
        return super().items()

    def values(self) -> Any:
        self.reads += len(self)
        return super().values()


async def _run_contacts(count: int) -> tuple[dict[str, int], int]:
    """`count` contacts through the ACD, then a quiet hour; the working set's sizes and the
    records an idle loop turn reads afterwards."""
    ctx, store, _, clock = acd_context(SETTINGS)
    view = ctx.mirror
    assert isinstance(view, FakeAcdView)
    offers = Offers(ctx)
    presence = Presence(ctx, offers)
    enqueueing = Enqueueing(ctx)
    routing = RoutingPass(ctx, offers)
    sweeper = Sweeper(ctx, offers, presence)
    await enqueueing.configure_queue(QueueSpec(TENANT, "support"))
    for n in range(AGENTS):
        await presence.upsert_agent(TENANT, AgentProfile(f"a{n}", capacity={Channel.WEBCHAT: 2}))
        await presence.set_agent_state(TENANT, f"a{n}", AgentState.AVAILABLE)
    batch = AGENTS * 2
    for first in range(0, count, batch):
        ids = [f"c{n}" for n in range(first, min(count, first + batch))]
        for contact_id in ids:
            await enqueueing.enqueue(
                TENANT, WaitingContact(contact_id, "support", Channel.WEBCHAT, 50, clock.now)
            )
        assert await routing.run() == len(ids)  # one pass offers the whole batch
        for contact_id in ids:
            record = store.contact(contact_id)
            await offers.accept(TENANT, record.agent_id, record.reservation_id)
        clock.now += 1.0
        for contact_id in ids:
            record = store.contact(contact_id)
            await offers.complete(TENANT, record.agent_id, record.reservation_id)
            assert store.contact(contact_id).status is ContactStatus.CLOSED
        if first % 2000 == 0:
            for n in range(AGENTS):
                await presence.heartbeat(TENANT, f"a{n}")
            await sweeper.sweep()
    # A quiet hour (agents keep their heartbeats), then the loop's turns count what they read.
    clock.now += view.history_seconds + 1
    for n in range(AGENTS):
        await presence.heartbeat(TENANT, f"a{n}")
    await routing.run()
    await sweeper.sweep()
    sizes = view.sizes()
    view.contacts = CountingDict(view.contacts)
    view.agents = CountingDict(view.agents)
    for _ in range(10):
        await routing.run()
        await sweeper.sweep()
    return sizes, view.contacts.reads + view.agents.reads


async def test_through_the_use_cases_the_working_set_keeps_only_live_contacts() -> None:
    few, few_reads = await _run_contacts(1_000)
    many, many_reads = await _run_contacts(10_000)
    assert many == few
    assert few["contacts"] == few["live"] == few["waiting"] == few["recent"] == 0
    assert few["agents"] == AGENTS
    assert many_reads == few_reads == 0  # an idle turn reads no record and no ledger


async def _watch_contacts(count: int) -> tuple[dict[str, int], int]:
    """`count` contacts as the KV watch shows them (waiting, offered, assigned, closed, and the
    agent's ledger holding and releasing each), then a quiet hour; the working set's sizes and
    the records an idle loop turn reads."""
    ctx, _, _, clock = acd_context(SETTINGS)
    view = ctx.mirror
    assert isinstance(view, FakeAcdView)
    offers = Offers(ctx)
    routing = RoutingPass(ctx, offers)
    sweeper = Sweeper(ctx, offers, Presence(ctx, offers))
    view.queues[(TENANT, "support")] = QueueSpec(TENANT, "support")
    profile = AgentProfile("a1", capacity={Channel.WEBCHAT: 1})
    view.put_agent(TENANT, "a1", AgentLedger(profile, AgentState.AVAILABLE, (), 0.0, clock.now))
    for n in range(count):
        now = clock.now + n * 0.01
        contact_id, reservation_id = f"c{n}", f"r{n}"
        waiting = ContactRecord(WaitingContact(contact_id, "support", Channel.WEBCHAT, 50, now))
        view.put_contact(TENANT, contact_id, waiting)
        offered = contact_rules.offer(waiting, reservation_id, "a1", now + 20.0)
        view.put_contact(TENANT, contact_id, offered)
        held = Held(reservation_id, contact_id, Channel.WEBCHAT, ReservationState.OFFERED, now + 20.0)
        ledger = ledger_rules.reserve(view.agents[(TENANT, "a1")], held)
        view.put_agent(TENANT, "a1", ledger)
        assigned = contact_rules.assign(offered, reservation_id, now)
        view.put_contact(TENANT, contact_id, assigned)
        view.put_agent(TENANT, "a1", ledger_rules.accept(ledger, reservation_id))
        view.put_contact(TENANT, contact_id, contact_rules.close(assigned, reservation_id, now))
        released = ledger_rules.release(view.agents[(TENANT, "a1")], reservation_id, now)
        view.put_agent(TENANT, "a1", replace(released, last_heartbeat=now))
    clock.now += count * 0.01 + view.history_seconds + 1
    view.put_agent(TENANT, "a1", replace(view.agents[(TENANT, "a1")], last_heartbeat=clock.now))
    await routing.run()
    await sweeper.sweep()
    sizes = view.sizes()
    view.contacts = CountingDict(view.contacts)
    view.agents = CountingDict(view.agents)
    for _ in range(10):
        await routing.run()
        await sweeper.sweep()
    return sizes, view.contacts.reads + view.agents.reads


async def test_after_100000_closed_contacts_the_working_set_is_the_one_after_1000() -> None:
    few, few_reads = await _watch_contacts(1_000)
    many, many_reads = await _watch_contacts(100_000)
    assert many == few
    assert few == {
        "agents": 1,
        "contacts": 0,
        "live": 0,
        "waiting": 0,
        "recent": 0,
        "deadlines": 0,
        "heartbeats": 1,
        "dirty_agents": 0,
    }
    assert many_reads == few_reads == 0


async def test_records_that_left_are_kept_for_the_history_window_only() -> None:
    ctx, store, _, clock = acd_context(SETTINGS)
    view = ctx.mirror
    assert isinstance(view, FakeAcdView)
    await Enqueueing(ctx).configure_queue(QueueSpec(TENANT, "support"))
    for n in range(3):
        await Enqueueing(ctx).enqueue(
            TENANT, WaitingContact(f"c{n}", "support", Channel.VOICE, 50, clock.now)
        )
    assert view.sizes()["waiting"] == 3
    await store.update_contact(
        TENANT, "c0", lambda old: old.__class__(old.contact, ContactStatus.CLOSED, closed_at=clock.now)
    )
    # Gone from the live contacts, still there for the measured service level and the stats.
    assert (TENANT, "c0") not in view.contacts and view.sizes()["waiting"] == 2
    assert [r.contact.contact_id for r in view.queue_records(TENANT, "support")] == ["c1", "c2", "c0"]
    found = view.record(TENANT, "c0")
    assert found is not None and found.status is ContactStatus.CLOSED
    clock.now += view.history_seconds + 1
    view.prune(clock.now)
    assert view.record(TENANT, "c0") is None
    assert view.sizes()["recent"] == 0
