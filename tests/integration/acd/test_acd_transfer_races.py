"""Transfers and closes with two routing instances on one bucket: racing calls act once, and an
instance stopping between a transfer's two writes loses no agent slot (any sweeper frees it)."""

from __future__ import annotations

import asyncio

import pytest
from _platform import eventually
from nats.aio.client import Client as NATS

from ccmesh.channels import Channel
from routing.domain import contacts as contact_rules
from routing.domain.agents import AgentProfile, AgentState
from routing.domain.contacts import ContactRecord, ContactStatus
from routing.domain.queueing import QueueSpec, WaitingContact
from routing.domain.reservations import AgentLedger, Held, ReservationError
from routing.service_layer.acd import AcdService, AcdSettings, Transfer

from ._harness import TENANT, Instance, start_instance, stop_instance

pytestmark = pytest.mark.timeout(60)
SETTINGS = AcdSettings(offer_timeout_seconds=3600, heartbeat_timeout_seconds=3600, tick_seconds=0.1)


async def two_instances(nats_url: str) -> tuple[Instance, Instance]:
    one = await start_instance(nats_url, SETTINGS)
    two = await start_instance(nats_url, SETTINGS)
    await one.service.configure_queue(QueueSpec(TENANT, "support"))
    await one.service.configure_queue(QueueSpec(TENANT, "billing"))
    await one.service.upsert_agent(TENANT, AgentProfile("a1", capacity={Channel.WEBCHAT: 1}))
    await one.service.set_agent_state(TENANT, "a1", AgentState.AVAILABLE)
    return one, two


async def offered(acd: AcdService, contact_id: str) -> ContactRecord:
    async def probe() -> ContactRecord | None:
        record = acd.mirror.contacts.get((TENANT, contact_id))
        return record if record is not None and record.status is ContactStatus.OFFERED else None

    found: ContactRecord = await eventually(probe)
    return found


async def ledger_of(acd: AcdService) -> AgentLedger:
    return await acd.store.get_ledger(TENANT, "a1")


async def test_racing_transfers_move_the_contact_once(nats_url: str, nc: NATS) -> None:
    one, two = await two_instances(nats_url)
    try:
        await one.service.enqueue(
            TENANT, WaitingContact("c1", "support", Channel.WEBCHAT, 50, one.service.now())
        )
        record = await offered(one.service, "c1")
        await two.service.accept(TENANT, "a1", record.reservation_id)
        # a1 goes on a break so nobody is offered the contact while the results are checked.
        await one.service.set_agent_state(TENANT, "a1", AgentState.BREAK)
        results = await asyncio.gather(
            one.service.transfer(Transfer(TENANT, "c1", "a1", "billing", "one")),
            two.service.transfer(Transfer(TENANT, "c1", "a1", "billing", "two")),
            return_exceptions=True,
        )
        moved = [r for r in results if not isinstance(r, BaseException)]
        refused = [r for r in results if isinstance(r, BaseException)]
        assert len(moved) == 1 and len(refused) == 1, results
        assert isinstance(refused[0], ReservationError)
        stored, from_queue = moved[0]
        assert (stored.status, stored.contact.queue, from_queue) == (
            ContactStatus.WAITING,
            "billing",
            "support",
        )
        assert (await ledger_of(one.service)).held == ()
    finally:
        await stop_instance(one)
        await stop_instance(two)


async def test_racing_closes_withdraw_an_offer_once(nats_url: str, nc: NATS) -> None:
    one, two = await two_instances(nats_url)
    try:
        await one.service.enqueue(
            TENANT, WaitingContact("c1", "support", Channel.WEBCHAT, 50, one.service.now())
        )
        record = await offered(one.service, "c1")
        closes = await asyncio.gather(
            one.service.close_contact(TENANT, "c1"), two.service.close_contact(TENANT, "c1")
        )
        assert [c.status for c in closes] == [ContactStatus.CLOSED] * 2
        assert {c.reservation_id for c in closes} == {record.reservation_id}
        assert (await ledger_of(one.service)).held == ()
        with pytest.raises(ReservationError):
            await one.service.accept(TENANT, "a1", record.reservation_id)
        # A close that overtakes its hand-off: the late hand-off does not queue the contact.
        early = await two.service.close_contact(TENANT, "c-late")
        assert (early.status, early.agent_id) == (ContactStatus.CLOSED, "")
        late = await one.service.enqueue(
            TENANT, WaitingContact("c-late", "support", Channel.WEBCHAT, 50, 0.0)
        )
        assert late.status is ContactStatus.CLOSED
    finally:
        await stop_instance(one)
        await stop_instance(two)


async def test_a_transfer_cut_short_before_the_ledger_loses_no_slot(nats_url: str, nc: NATS) -> None:
    one, two = await two_instances(nats_url)
    try:
        await one.service.enqueue(
            TENANT, WaitingContact("c1", "support", Channel.WEBCHAT, 50, one.service.now())
        )
        record = await offered(one.service, "c1")
        await one.service.accept(TENANT, "a1", record.reservation_id)
        # The first write of a transfer only, as if its instance died right after it.
        await one.service.store.update_contact(
            TENANT,
            "c1",
            lambda old: contact_rules.transfer_queue(old, "a1", "billing", one.service.now()),  # type: ignore[arg-type]
        )
        assert [h.contact_id for h in (await ledger_of(one.service)).held] == ["c1"]

        # The other instance's sweeper frees the orphaned slot; c1 is then offered anew (a1 is the
        # only agent with room, so it is asked again) under a new reservation.
        async def freed_and_reoffered() -> tuple[ContactRecord, list[Held]] | None:
            again = two.service.mirror.contacts.get((TENANT, "c1"))
            if again is None or again.status is not ContactStatus.OFFERED:
                return None
            if again.reservation_id == record.reservation_id:
                return None
            # An offer writes the contact first and the agent's hold after it: wait for both.
            held = list((await ledger_of(two.service)).held)
            return (again, held) if any(h.reservation_id == again.reservation_id for h in held) else None

        again, held = await eventually(freed_and_reoffered)
        assert again.contact.queue == "billing"
        assert [(h.contact_id, h.reservation_id) for h in held] == [("c1", again.reservation_id)]
    finally:
        await stop_instance(one)
        await stop_instance(two)
