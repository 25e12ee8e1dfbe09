"""A retried accept or complete whose first try was applied (its reply lost to a timeout while a
bucket or the event stream changed leader) succeeds with the same result instead of failing,
and the change is still announced: staged with the write that made it, and published again
(the stream drops the copy by its fixed id). A retry that names another contact, or a
reservation never answered, is still refused."""

from __future__ import annotations

import pytest
from fakes.routing_fakes import TENANT, FakeAcdRecords, acd_context, decided

from ccmesh.channels import Channel
from routing.domain.agents import AgentProfile, AgentState
from routing.domain.contacts import ContactStatus
from routing.domain.events import ContactAccepted, ContactCompleted
from routing.domain.queueing import QueueSpec, WaitingContact
from routing.domain.reservations import ReservationError, ReservationState
from routing.service_layer.acd_context import AcdContext
from routing.service_layer.acd_enqueue import Enqueueing
from routing.service_layer.acd_offers import Offers
from routing.service_layer.acd_presence import Presence


async def offered(ctx: AcdContext, store: FakeAcdRecords) -> str:
    """One contact offered to agent a1 (capacity one chat); its reservation id."""
    await Enqueueing(ctx).configure_queue(QueueSpec(TENANT, "support"))
    presence = Presence(ctx, Offers(ctx))
    await presence.upsert_agent(TENANT, AgentProfile("a1", capacity={Channel.WEBCHAT: 1}))
    await presence.set_agent_state(TENANT, "a1", AgentState.AVAILABLE)
    record = await Enqueueing(ctx).enqueue(
        TENANT, WaitingContact("c1", "support", Channel.WEBCHAT, 50, 990.0)
    )
    await Offers(ctx).offer(TENANT, record, decided("c1"), 1000.0)
    return store.contact("c1").reservation_id


def lose_replies_of(store: object, method: str, times: int = 1) -> None:
    """The store applies the write and then raises, as a KV ack lost to an election does."""
    apply = getattr(store, method)
    left = [times]

    async def applied_then_lost(*args: object, **kwargs: object) -> object:
        result = await apply(*args, **kwargs)
        if left[0] > 0:
            left[0] -= 1
            raise TimeoutError("nats: timeout")
        return result

    setattr(store, method, applied_then_lost)


async def test_a_retried_accept_whose_contact_side_landed_finishes_and_succeeds() -> None:
    ctx, store, events, _ = acd_context()
    reservation = await offered(ctx, store)
    lose_replies_of(store, "update_contact")
    with pytest.raises(TimeoutError):
        await Offers(ctx).accept(TENANT, "a1", reservation)
    assert store.contact("c1").status is ContactStatus.ASSIGNED  # the contact side landed
    record = await Offers(ctx).accept(TENANT, "a1", reservation, "c1")
    assert (record.status, record.reservation_id) == (ContactStatus.ASSIGNED, reservation)
    assert store.ledger("a1").find(reservation).state is ReservationState.ACCEPTED
    assert [type(e) for e in store.staged].count(ContactAccepted) == 1
    assert [type(e) for e in events.events].count(ContactAccepted) == 1


async def test_a_retried_accept_that_landed_whole_returns_the_same_contact() -> None:
    ctx, store, events, _ = acd_context()
    reservation = await offered(ctx, store)

    async def publish_lost(event: object) -> None:
        raise TimeoutError("nats: timeout")  # the stream is electing a leader

    real_events = ctx.events
    ctx.events = publish_lost
    with pytest.raises(TimeoutError):
        await Offers(ctx).accept(TENANT, "a1", reservation)
    ctx.events = real_events
    writes = store.writes
    first = store.contact("c1")
    again = await Offers(ctx).accept(TENANT, "a1", reservation, "c1")
    assert again == first and again.status is ContactStatus.ASSIGNED
    # Staged once (by the write that accepted) and published by the retry: nothing is lost.
    assert [type(e) for e in store.staged].count(ContactAccepted) == 1
    assert [type(e) for e in events.events][-1:] == [ContactAccepted]
    assert store.ledger("a1").find(reservation).state is ReservationState.ACCEPTED
    assert store.writes - writes <= 2  # nothing changed, at most rewritten as it was


async def test_a_retried_complete_whose_contact_side_landed_frees_the_slot_and_announces() -> None:
    ctx, store, events, _ = acd_context()
    reservation = await offered(ctx, store)
    await Offers(ctx).accept(TENANT, "a1", reservation)
    lose_replies_of(store, "update_contact")
    with pytest.raises(TimeoutError):
        await Offers(ctx).complete(TENANT, "a1", reservation)
    assert store.contact("c1").status is ContactStatus.CLOSED
    assert store.ledger("a1").held != ()  # the slot is not freed yet
    record = await Offers(ctx).complete(TENANT, "a1", reservation, "c1")
    assert record.status is ContactStatus.CLOSED and store.ledger("a1").held == ()
    assert [type(e) for e in store.staged].count(ContactCompleted) == 1
    assert [type(e) for e in events.events].count(ContactCompleted) == 1


async def test_a_retried_complete_that_landed_whole_is_announced_and_succeeds() -> None:
    ctx, store, events, _ = acd_context()
    reservation = await offered(ctx, store)
    await Offers(ctx).accept(TENANT, "a1", reservation)
    lose_replies_of(store, "update_ledger")
    with pytest.raises(TimeoutError):
        await Offers(ctx).complete(TENANT, "a1", reservation)
    assert store.ledger("a1").held == () and events.of(ContactCompleted) == []
    record = await Offers(ctx).complete(TENANT, "a1", reservation, "c1")
    assert (record.status, record.reservation_id) == (ContactStatus.CLOSED, reservation)
    (completed,) = events.of(ContactCompleted)
    assert completed.record.reservation_id == reservation


async def test_a_retry_naming_another_contact_or_without_one_is_still_refused() -> None:
    ctx, store, events, _ = acd_context()
    reservation = await offered(ctx, store)
    await Offers(ctx).accept(TENANT, "a1", reservation)
    await Offers(ctx).complete(TENANT, "a1", reservation)
    seen = len(events.events)
    with pytest.raises(ReservationError, match="holds no reservation"):
        await Offers(ctx).complete(TENANT, "a1", reservation)
    with pytest.raises(ReservationError, match="holds no reservation"):
        await Offers(ctx).complete(TENANT, "a1", reservation, "c2")
    with pytest.raises(ReservationError, match="holds no reservation"):
        await Offers(ctx).complete(TENANT, "a1", "another-reservation", "c1")
    # An accept of a contact that is closed, not assigned, is not a retried accept.
    with pytest.raises(ReservationError, match="holds no reservation"):
        await Offers(ctx).accept(TENANT, "a1", reservation, "c1")
    assert len(events.events) == seen


async def test_another_agent_cannot_complete_a_contact_by_naming_it() -> None:
    ctx, store, _, _ = acd_context()
    reservation = await offered(ctx, store)
    await Presence(ctx, Offers(ctx)).upsert_agent(TENANT, AgentProfile("a2"))
    await Offers(ctx).accept(TENANT, "a1", reservation)
    await Offers(ctx).complete(TENANT, "a1", reservation)
    with pytest.raises(ReservationError):
        await Offers(ctx).complete(TENANT, "a2", reservation, "c1")
