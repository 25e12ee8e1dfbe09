"""Presence and answers: an agent whose heartbeat stops goes offline and its offered contacts go
back to the queue at their original position (its accepted contacts stay with it); a declined
contact is re-offered to someone else."""

from __future__ import annotations

import pytest
from _platform import eventually
from nats.aio.client import Client as NATS

from ccmesh.channels import Channel
from routing.domain.agents import AgentProfile, AgentState
from routing.domain.contacts import ContactStatus
from routing.domain.queueing import QueueSpec, WaitingContact
from routing.domain.reservations import ReservationState
from routing.service_layer.acd import AcdSettings

from ._harness import TENANT, Instance, start_instance, stop_instance

pytestmark = pytest.mark.timeout(60)


async def offered_to(instance: Instance, contact_id: str, agent_id: str) -> str:
    async def probe() -> str:
        record = instance.service.mirror.contacts.get((TENANT, contact_id))
        ledger = instance.service.mirror.agents.get((TENANT, agent_id))
        if record is None or record.status is not ContactStatus.OFFERED or record.agent_id != agent_id:
            return ""
        if ledger is None or record.reservation_id not in {h.reservation_id for h in ledger.held}:
            return ""
        return record.reservation_id

    reservation: str = await eventually(probe, seconds=20)
    return reservation


async def test_lapsed_heartbeat_sets_offline_and_requeues_offers_only(nats_url: str, nc: NATS) -> None:
    instance = await start_instance(nats_url, AcdSettings(30.0, 1.0, 0.1))
    acd = instance.service
    try:
        await acd.configure_queue(QueueSpec(TENANT, "support"))
        await acd.upsert_agent(TENANT, AgentProfile("a1", capacity={Channel.WEBCHAT: 2}))
        await acd.set_agent_state(TENANT, "a1", AgentState.AVAILABLE)
        await acd.enqueue(TENANT, WaitingContact("c0", "support", Channel.WEBCHAT, 50, 100.0))
        await acd.accept(TENANT, "a1", await offered_to(instance, "c0", "a1"))
        await acd.enqueue(TENANT, WaitingContact("c1", "support", Channel.WEBCHAT, 50, 200.0))
        await offered_to(instance, "c1", "a1")
        # a1 sends no heartbeat: the sweeper sets it offline after 1 s, and c1 goes back.
        await acd.upsert_agent(TENANT, AgentProfile("a2", capacity={Channel.WEBCHAT: 1}))

        async def a1_offline() -> bool:
            ledger = acd.mirror.agents.get((TENANT, "a1"))
            return ledger is not None and ledger.state is AgentState.OFFLINE

        await eventually(a1_offline, seconds=20)
        await acd.set_agent_state(TENANT, "a2", AgentState.AVAILABLE)
        await offered_to(instance, "c1", "a2")
        record = acd.mirror.contacts[(TENANT, "c1")]
        assert record.contact.enqueued_at == 200.0  # its original position
        a1 = await acd.store.get_ledger(TENANT, "a1")
        assert [(h.contact_id, h.state) for h in a1.held] == [("c0", ReservationState.ACCEPTED)]
        assert acd.mirror.contacts[(TENANT, "c0")].status is ContactStatus.ASSIGNED
    finally:
        await stop_instance(instance)


async def test_declined_contact_goes_to_another_agent(nats_url: str, nc: NATS) -> None:
    instance = await start_instance(nats_url, AcdSettings(30.0, 3600, 0.1))
    acd = instance.service
    try:
        await acd.configure_queue(QueueSpec(TENANT, "support"))
        await acd.upsert_agent(TENANT, AgentProfile("a1"))
        await acd.set_agent_state(TENANT, "a1", AgentState.AVAILABLE)
        await acd.enqueue(TENANT, WaitingContact("c1", "support", Channel.WEBCHAT, 50, 1.0))
        reservation = await offered_to(instance, "c1", "a1")
        await acd.upsert_agent(TENANT, AgentProfile("a2"))
        await acd.set_agent_state(TENANT, "a2", AgentState.AVAILABLE)
        await acd.decline(TENANT, "a1", reservation)
        await offered_to(instance, "c1", "a2")
        assert acd.mirror.contacts[(TENANT, "c1")].passed_by == ("a1",)
        assert (await acd.store.get_ledger(TENANT, "a1")).held == ()
    finally:
        await stop_instance(instance)
