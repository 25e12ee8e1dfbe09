"""Customers ask for a call back, or cancel it, by replying on their channel (routing's side)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ccmesh.channels import Channel
from routing.adapters.callback_codec import cancel_events
from routing.domain.callbacks import (
    CANCELLED_TEXT,
    REQUEST_TEXT,
    Cancelled,
    Command,
    NotCancellable,
    check_cancellable,
    command_in,
)
from routing.domain.contacts import ContactRecord, ContactStatus
from routing.domain.events import CallbackScheduled, RoutingEvent
from routing.domain.queueing import WaitingContact
from routing.service_layer.acd_closing import close_contact
from routing.service_layer.callbacks import CallbackRequests, NotInAcd
from tests.unit.fakes.routing_fakes import FakeAcdRecords, FakeAcdView

TENANT = "acme"


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("CALL ME", Command.REQUEST),
        ("call me back please", Command.REQUEST),
        ("Callback!", Command.REQUEST),
        ("  Call   back. ", Command.REQUEST),
        ("CANCEL", Command.CANCEL),
        ("cancel the call back", Command.CANCEL),
        ("Please cancel", Command.CANCEL),
        ("Can you call me tomorrow about my order?", None),
        ("I want to cancel my order", None),
        ("", None),
        ("call me " * 20, None),
    ],
)
def test_only_a_message_that_is_the_command_counts(text: str, command: Command | None) -> None:
    assert command_in(text) is command


class World:
    def __init__(self) -> None:
        self.view = FakeAcdView()
        self.records = FakeAcdRecords(self.view)
        self.events: list[RoutingEvent] = []
        self.cancelled: list[Cancelled] = []

        async def sink(event: RoutingEvent) -> None:
            self.events.append(event)

        async def close(tenant: str, contact_id: str) -> ContactRecord:
            return await close_contact(self.records, sink, tenant, contact_id, 2000.0)

        async def announce(cancelled: Cancelled) -> None:
            self.cancelled.append(cancelled)

        self.requests = CallbackRequests(self.records, self.view, sink, close, announce)

    async def arrive(self, contact_id: str, channel: Channel = Channel.SMS, at: float = 100.0) -> None:
        contact = WaitingContact(contact_id, "support", channel, 50, at)
        await self.records.update_contact(TENANT, contact_id, lambda _: ContactRecord(contact))

    def record(self, contact_id: str) -> ContactRecord:
        return self.records.contacts[(TENANT, contact_id)]


async def test_call_me_keeps_the_place_and_tells_the_customer_once() -> None:
    world = World()
    await world.arrive("c-1", at=100.0)
    assert await world.requests.on_message(TENANT, "c-1", "CALL ME") is Command.REQUEST
    record = world.record("c-1")
    assert (record.closed_action, record.status, record.contact.enqueued_at) == ("callback", "waiting", 100.0)
    told = [e for e in world.events if isinstance(e, CallbackScheduled)]
    assert [(e.contact_id, e.text) for e in told] == [("c-1", REQUEST_TEXT)]
    # Asking again changes nothing and tells nothing new.
    assert await world.requests.on_message(TENANT, "c-1", "call me") is None
    assert len([e for e in world.events if isinstance(e, CallbackScheduled)]) == 1


async def test_call_me_from_a_channel_without_a_number_or_outside_the_acd_does_nothing() -> None:
    world = World()
    await world.arrive("chat-1", channel=Channel.WEBCHAT)
    assert await world.requests.on_message(TENANT, "chat-1", "CALL ME") is None
    # Not in the ACD (or not yet): said as such, so the consumer can ask again a moment later.
    with pytest.raises(NotInAcd, match="contact nobody waits in no queue"):
        await world.requests.on_message(TENANT, "nobody", "CALL ME")
    assert world.record("chat-1").closed_action == "" and not world.events
    # Through the gateway's RequestCallback, the same is a plain no.
    assert await world.requests.request(TENANT, "nobody") is None


async def test_cancel_takes_a_waiting_request_out_of_the_queue() -> None:
    world = World()
    await world.arrive("c-1")
    await world.requests.on_message(TENANT, "c-1", "CALL ME")
    assert await world.requests.on_message(TENANT, "c-1", "Cancel") is Command.CANCEL
    assert world.record("c-1").status is ContactStatus.CLOSED
    assert "c-1" not in world.view.waiting.get((TENANT, "support"), {})
    (cancelled,) = world.cancelled
    assert (cancelled.by, cancelled.record.contact.contact_id) == ("customer", "c-1")
    events = cancel_events(cancelled, "eu")
    assert [e.WhichOneof("payload") for e in events] == [
        "callback_cancelled",
        "message_sent",
        "contact_closed",
    ]
    assert (events[2].contact_closed.outcome, events[2].contact_closed.closed_by) == (
        "callback_cancelled",
        "customer",
    )
    assert events[0].callback_cancelled.by == "customer" and events[1].message_sent.text == CANCELLED_TEXT
    # A second CANCEL (or the provider's retry of the first) has nothing left to cancel.
    assert await world.requests.on_message(TENANT, "c-1", "CANCEL") is None
    assert len(world.cancelled) == 1


async def test_cancel_is_refused_naming_why_when_there_is_no_waiting_request() -> None:
    world = World()
    await world.arrive("plain")
    with pytest.raises(NotCancellable, match="contact plain is no call-back request"):
        await world.requests.cancel(TENANT, "plain", by="api")
    with pytest.raises(NotCancellable, match="contact ghost is not waiting in a queue"):
        await world.requests.cancel(TENANT, "ghost", by="api")
    # Accepted by an agent: the call is on its way, too late to cancel.
    await world.requests.on_message(TENANT, "plain", "call me")
    taken = world.record("plain")
    for status in (ContactStatus.ASSIGNED, ContactStatus.CLOSED):
        record = ContactRecord(taken.contact, status, closed_action="callback")
        with pytest.raises(NotCancellable, match=f"is {status.value}, too late to cancel"):
            check_cancellable(record, "plain")
    assert world.record("plain").status is ContactStatus.WAITING and not world.cancelled


async def test_open_requests_are_listed_in_call_back_order_scheduled_then_placed() -> None:
    world = World()
    for contact_id, at in (("late", 300.0), ("early", 100.0), ("plain", 50.0), ("taken", 200.0)):
        await world.arrive(contact_id, at=at)
    for contact_id in ("late", "early", "taken"):
        await world.requests.on_message(TENANT, contact_id, "CALL ME")

    def accepted(record: ContactRecord | None) -> ContactRecord:
        assert record is not None
        return replace(record, status=ContactStatus.ASSIGNED, agent_id="ann", reservation_id="r1")

    await world.records.update_contact(TENANT, "taken", accepted)
    listed = [(s.contact_id, s.state, s.agent_id) for s in world.requests.open_requests(TENANT)]
    assert listed == [("early", "scheduled", ""), ("taken", "placed", "ann"), ("late", "scheduled", "")]
    assert world.requests.open_requests("other-tenant") == []
