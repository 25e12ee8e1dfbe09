"""Completing a contact whose agent slot another instance's sweeper freed first is done, not
failed: `complete` writes the contact closed before it frees the ledger, and any instance's
sweeper frees a slot held for a closed contact (seen as a hang of the routing bench's mesh run,
whose agents complete at once while two instances sweep)."""

from __future__ import annotations

from collections.abc import Callable

import nats
import pytest
from _platform import eventually
from nats.aio.client import Client as NATS

from ccmesh import naming
from ccmesh.channels import Channel
from ccmesh.kv import ensure_bucket
from routing.adapters.acd_store import AcdStore, KeyMirror
from routing.domain.agents import AgentProfile, AgentState
from routing.domain.contacts import ContactRecord, ContactStatus
from routing.domain.events import Announce
from routing.domain.queueing import QueueSpec, WaitingContact
from routing.domain.reservations import AgentLedger
from routing.service_layer.acd import AcdService, AcdSettings

from ._harness import REGION, TENANT, start_instance, stop_instance

pytestmark = pytest.mark.timeout(60)
SETTINGS = AcdSettings(offer_timeout_seconds=3600, heartbeat_timeout_seconds=3600, tick_seconds=0.1)


class SweptBetweenWrites(AcdStore):
    """The real bucket; once armed, a ledger update waits until the slot of `reservation_id`
    is gone from the stored ledger, i.e. until another instance's sweeper freed it between
    `complete`'s contact write and its ledger write (the race, made certain)."""

    reservation_id = ""

    async def update_ledger(
        self,
        tenant: str,
        agent_id: str,
        change: Callable[[AgentLedger], AgentLedger],
        *,
        announce: Announce[AgentLedger] | None = None,
    ) -> AgentLedger:
        if self.reservation_id:
            reservation_id, self.reservation_id = self.reservation_id, ""

            async def freed() -> bool:
                held = (await self.get_ledger(tenant, agent_id)).held
                return all(h.reservation_id != reservation_id for h in held)

            await eventually(freed)
        return await super().update_ledger(tenant, agent_id, change, announce=announce)


async def test_completing_after_a_sweeper_freed_the_slot_succeeds(nats_url: str, nc: NATS) -> None:
    router = await start_instance(nats_url, SETTINGS)  # routes, and sweeps every 0.1 s
    answering = await nats.connect(nats_url)
    kv = await ensure_bucket(answering.jetstream(), naming.acd_bucket(REGION), history=1)
    store = SweptBetweenWrites(kv)
    # The instance the agent answers through; not started, so its own sweeper never runs.
    agent_side = AcdService(store, KeyMirror(kv), SETTINGS)
    try:
        acd = router.service
        await acd.configure_queue(QueueSpec(TENANT, "support"))
        await acd.upsert_agent(TENANT, AgentProfile("a1", capacity={Channel.WEBCHAT: 1}))
        await acd.set_agent_state(TENANT, "a1", AgentState.AVAILABLE)
        await acd.enqueue(TENANT, WaitingContact("c1", "support", Channel.WEBCHAT, 50, acd.now()))

        async def offered(contact_id: str) -> ContactRecord | None:
            record = acd.mirror.contacts.get((TENANT, contact_id))
            return record if record is not None and record.status is ContactStatus.OFFERED else None

        record: ContactRecord = await eventually(lambda: offered("c1"))

        async def reserved() -> bool:
            # The contact is written offered first, the agent's hold a moment later.
            held = (await store.get_ledger(TENANT, "a1")).held
            return any(h.reservation_id == record.reservation_id for h in held)

        await eventually(reserved)
        await agent_side.accept(TENANT, "a1", record.reservation_id)

        store.reservation_id = record.reservation_id
        closed = await agent_side.complete(TENANT, "a1", record.reservation_id)

        assert store.reservation_id == "", "the ledger write did not wait for the sweeper"
        assert (closed.status, closed.reservation_id) == (ContactStatus.CLOSED, record.reservation_id)
        assert (await store.get_ledger(TENANT, "a1")).held == ()
        # The slot is free exactly once: the agent takes the next contact, and only that one.
        await acd.enqueue(TENANT, WaitingContact("c2", "support", Channel.WEBCHAT, 50, acd.now()))
        again: ContactRecord = await eventually(lambda: offered("c2"))
        held = (await store.get_ledger(TENANT, "a1")).held
        assert [(h.contact_id, h.reservation_id) for h in held] == [("c2", again.reservation_id)]
    finally:
        await stop_instance(router)
        await answering.drain()
