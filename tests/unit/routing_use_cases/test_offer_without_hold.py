"""An offer is two writes (the contact, then the agent's hold). A writer that died between them
leaves a contact offered under a hold no agent has: the sweeper gives it back to the queue a
short grace after the offer, not after the full offer timeout; an offer whose hold is there (in
the view, or only in the store yet) is left alone."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from fakes.routing_fakes import TENANT, FakeAcdRecords, acd_context, decided

from ccmesh.channels import Channel
from routing.domain.agents import AgentProfile, AgentState
from routing.domain.contacts import ContactStatus
from routing.domain.queueing import QueueSpec, WaitingContact
from routing.service_layer.acd_context import AcdContext, AcdSettings
from routing.service_layer.acd_enqueue import Enqueueing
from routing.service_layer.acd_offers import Offers
from routing.service_layer.acd_presence import Presence
from routing.service_layer.acd_sweeping import Sweeper

SETTINGS = AcdSettings(offer_timeout_seconds=600.0, heartbeat_timeout_seconds=3600.0, region="eu")
GRACE = 2.0


class Died(BaseException):
    """The writer is gone: nothing after its first write runs."""


async def died(*_: Any, **__: Any) -> Any:
    raise Died("gone before writing the hold")


async def a1_and_c1(ctx: AcdContext) -> tuple[Offers, Sweeper]:
    offers = Offers(ctx)
    presence = Presence(ctx, offers)
    await Enqueueing(ctx).configure_queue(QueueSpec(TENANT, "support"))
    await presence.upsert_agent(TENANT, AgentProfile("a1"))
    await presence.set_agent_state(TENANT, "a1", AgentState.AVAILABLE)
    await Enqueueing(ctx).enqueue(TENANT, WaitingContact("c1", "support", Channel.EMAIL, 50, 990.0))
    return offers, Sweeper(ctx, offers, presence, hold_grace_seconds=GRACE)


async def offer_cut_short(offers: Offers, store: FakeAcdRecords, now: float) -> None:
    real = store.update_ledger
    store.update_ledger = died
    with pytest.raises(Died):
        await offers.offer(TENANT, store.contact("c1"), decided("c1"), now)
    store.update_ledger = real


async def test_an_offer_whose_hold_was_never_written_goes_back_after_the_grace() -> None:
    ctx, store, events, clock = acd_context(SETTINGS)
    offers, sweeper = await a1_and_c1(ctx)
    await offer_cut_short(offers, store, clock.now)
    offered = store.contact("c1")
    assert offered.status is ContactStatus.OFFERED and store.ledger("a1").held == ()
    published = list(events.events)
    clock.now += GRACE / 2
    assert await sweeper.sweep() == 0  # the writer may just be slow
    assert store.contact("c1").status is ContactStatus.OFFERED
    clock.now += GRACE / 2
    assert await sweeper.sweep() == 1
    back = store.contact("c1")
    assert (back.status, back.reservation_id, back.agent_id) == (ContactStatus.WAITING, "", "")
    # Nobody was told of the offer, so nothing announces its end; the agent did not pass on it.
    assert back.passed_by == () and back.contact.enqueued_at == offered.contact.enqueued_at
    assert events.events == published
    # Offered again, this time to the end, by the next routing decision.
    assert await offers.offer(TENANT, back, decided("c1"), clock.now) is not None
    assert store.ledger("a1").held[0].reservation_id == store.contact("c1").reservation_id


async def test_an_offer_whose_hold_was_written_is_left_to_its_agent() -> None:
    ctx, store, _, clock = acd_context(SETTINGS)
    offers, sweeper = await a1_and_c1(ctx)
    assert await offers.offer(TENANT, store.contact("c1"), decided("c1"), clock.now) is not None
    clock.now += GRACE * 5
    assert await sweeper.sweep() == 0
    assert store.contact("c1").status is ContactStatus.OFFERED


async def test_a_hold_the_view_has_not_seen_yet_is_read_from_the_store() -> None:
    ctx, store, _, clock = acd_context(SETTINGS)
    offers, sweeper = await a1_and_c1(ctx)
    ledger = await offers.offer(TENANT, store.contact("c1"), decided("c1"), clock.now)
    assert ledger is not None
    ctx.mirror.agents[(TENANT, "a1")] = replace(ledger, held=())  # the ledger's change still on its way
    clock.now += GRACE * 5
    assert await sweeper.sweep() == 0
    assert store.contact("c1").status is ContactStatus.OFFERED


async def test_an_offer_answered_within_the_grace_is_not_touched() -> None:
    ctx, store, _, clock = acd_context(SETTINGS)
    offers, sweeper = await a1_and_c1(ctx)
    ledger = await offers.offer(TENANT, store.contact("c1"), decided("c1"), clock.now)
    assert ledger is not None
    await offers.accept(TENANT, "a1", ledger.held[0].reservation_id)
    clock.now += GRACE * 5
    assert await sweeper.sweep() == 0
    assert store.contact("c1").status is ContactStatus.ASSIGNED
