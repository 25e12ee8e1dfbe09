"""`Enqueueing` over fakes: a contact enters its queue once, announced once; bad input names the
field and stores nothing; a closed queue's action applies (never an error)."""

from __future__ import annotations

import pytest
from fakes.routing_fakes import TENANT, acd_context

from ccmesh.channels import Channel
from routing.domain.agents import AcdInputError
from routing.domain.closed_actions import DEFAULT_TEXTS
from routing.domain.contacts import ContactStatus
from routing.domain.events import CallbackScheduled, ContactQueued, ContactTurnedAway
from routing.domain.hours import BusinessHours
from routing.domain.queueing import QueueSpec, WaitingContact
from routing.service_layer.acd_enqueue import Enqueueing

NEVER_OPEN = BusinessHours.parse("UTC", {}, closed_action="message")


def contact(contact_id: str = "c1", queue: str = "support", **kw: object) -> WaitingContact:
    return WaitingContact(contact_id, queue, Channel.SMS, 50, 1000.0, **kw)  # type: ignore[arg-type]


async def test_a_contact_is_queued_once_and_announced_once() -> None:
    ctx, _store, events, _ = acd_context()
    enqueueing = Enqueueing(ctx)
    await enqueueing.configure_queue(QueueSpec(TENANT, "support"))
    first = await enqueueing.enqueue(TENANT, contact())
    again = await enqueueing.enqueue(TENANT, contact())
    assert first.status is again.status is ContactStatus.WAITING
    assert [type(e) for e in events.events] == [ContactQueued]
    assert events.events[0].record.contact.channel is Channel.SMS


@pytest.mark.parametrize(
    ("waiting", "field"),
    [
        (contact(queue="nope"), "queue"),
        (contact(required_skills=frozenset({"astrology"})), "required_skills"),
    ],
)
async def test_bad_input_names_the_field_and_stores_nothing(waiting: WaitingContact, field: str) -> None:
    ctx, store, events, _ = acd_context()
    enqueueing = Enqueueing(ctx)
    await enqueueing.configure_queue(QueueSpec(TENANT, "support"))
    with pytest.raises(AcdInputError) as caught:
        await enqueueing.enqueue(TENANT, waiting)
    assert caught.value.field == field
    assert store.contacts == {} and events.events == []


async def test_a_closed_queue_with_a_message_tells_the_customer_once_and_the_contact_leaves() -> None:
    ctx, store, events, _ = acd_context()
    enqueueing = Enqueueing(ctx)
    await enqueueing.configure_queue(QueueSpec(TENANT, "support", hours=NEVER_OPEN))
    record = await enqueueing.enqueue(TENANT, contact())
    again = await enqueueing.enqueue(TENANT, contact())  # a redelivered hand-off
    assert (record.status, record.closed_action) == (ContactStatus.CLOSED, "message")
    assert again == record == store.contact("c1")
    assert [type(e) for e in events.events] == [ContactTurnedAway]
    assert events.events[0].text == DEFAULT_TEXTS["message"]  # type: ignore[attr-defined]


async def test_a_closed_queue_with_a_callback_keeps_the_contacts_place_and_tells_the_customer() -> None:
    ctx, store, events, _ = acd_context()
    enqueueing = Enqueueing(ctx)
    hours = BusinessHours.parse("UTC", {}, closed_action="callback", closed_message="We call you back.")
    await enqueueing.configure_queue(QueueSpec(TENANT, "support", hours=hours))
    record = await enqueueing.enqueue(TENANT, contact())
    assert (record.status, record.closed_action, record.contact.queue) == (
        ContactStatus.WAITING,
        "callback",
        "support",
    )
    assert record.contact.enqueued_at == 1000.0 and store.contact("c1") == record
    assert [type(e) for e in events.events] == [ContactQueued, CallbackScheduled]
    assert events.events[1].text == "We call you back."  # type: ignore[attr-defined]


async def test_a_closed_queue_may_hand_its_contacts_to_another_queue() -> None:
    ctx, store, _, _ = acd_context()
    enqueueing = Enqueueing(ctx)
    hours = BusinessHours.parse("UTC", {}, closed_action="queue", closed_target_queue="night")
    await enqueueing.configure_queue(QueueSpec(TENANT, "night"))  # the target first: it must exist
    await enqueueing.configure_queue(QueueSpec(TENANT, "support", hours=hours))
    record = await enqueueing.enqueue(TENANT, contact())
    assert record.contact.queue == "night" and store.contact("c1").contact.queue == "night"
