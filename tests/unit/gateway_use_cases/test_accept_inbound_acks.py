"""The message's own events are sent together and acknowledged together: nothing that must follow
them on the stream (the contact queued) is published unless they were acknowledged, and a failed
acknowledgement gives the claim back so the provider's retry completes the contact."""

from __future__ import annotations

from typing import Any

import pytest
from fakes.gateway_fakes import (
    REGION,
    FakeContacts,
    FakeEvents,
    FakeIdentity,
    FakeRouting,
    channel_endpoint,
    directory_of,
    sms,
)

from gateway.domain.events import GatewayEvent
from gateway.domain.learned import Learned
from gateway.service_layer.accept_inbound import accept_inbound
from gateway.service_layer.conversation import Conversations


class UnacknowledgedOnce(FakeEvents):
    """The first lot sent reaches the stream, but its acknowledgement never comes back."""

    failed = False

    async def send(self, *events: GatewayEvent) -> Any:
        acknowledged = await super().send(*events)
        if self.failed:
            return acknowledged
        self.failed = True
        acknowledged.close()

        async def timed_out() -> None:
            raise TimeoutError("nats: timeout")

        return timed_out()


class Reader:
    def __init__(self) -> None:
        self.texts: list[str] = []

    async def __call__(self, tenant_id: str, brand_id: str, text: str) -> Learned:
        self.texts.append(text)
        return Learned("en", "order_status", 0.0)


async def test_nothing_follows_events_not_acknowledged_and_the_retry_completes_the_contact() -> None:
    events, contacts, reader = UnacknowledgedOnce(), FakeContacts(), Reader()
    conversations = Conversations(
        region=REGION,
        store=contacts,
        routing=FakeRouting(),
        endpoints=directory_of(channel_endpoint("acme-queue", queue="support")),
        events=events,
        language_of=reader,
    )

    async def accept() -> Any:
        return await accept_inbound(
            sms("SM1", entry_point="acme-queue", text="where is my parcel"),
            region=REGION,
            store=contacts,
            identity=FakeIdentity(),
            events=events,
            conversations=conversations,
        )

    with pytest.raises(TimeoutError):
        await accept()
    assert events.kinds() == ["contact_created", "message_received"]
    assert contacts.claims == {}
    accepted, duplicate = await accept()
    assert not duplicate
    # The repeated MessageReceived is dropped by its id; the contact is queued once, with its language.
    assert events.kinds() == ["contact_created", "message_received", "contact_queued"]
    (queued,) = events.of_kind("contact_queued")
    assert queued.contact_id == accepted.contact_id and queued.contact_queued.language == "en"
    record, _ = await contacts.contact("acme", accepted.contact_id)
    assert record is not None and record.started


async def test_a_new_customer_joining_an_open_contact_does_not_queue_it_again() -> None:
    # The language of a customer created now is read early, for a first step; a message that
    # continues a contact (the platform's call back URL names it) has none, and is not queued.
    events, contacts, reader = FakeEvents(), FakeContacts(), Reader()
    conversations = Conversations(
        region=REGION,
        store=contacts,
        routing=FakeRouting(),
        endpoints=directory_of(channel_endpoint("acme-queue", queue="support")),
        events=events,
        language_of=reader,
    )
    identity = FakeIdentity()

    async def accept(provider_id: str, phone: str, contact_hint: str = "") -> Any:
        accepted, _ = await accept_inbound(
            sms(provider_id, entry_point="acme-queue", phone=phone, contact_hint=contact_hint),
            region=REGION,
            store=contacts,
            identity=identity,
            events=events,
            conversations=conversations,
        )
        return accepted

    first = await accept("SM1", "+447700900001")
    joined = await accept("SM2", "+447700900002", contact_hint=first.contact_id)
    assert joined.contact_id == first.contact_id and not joined.contact_created
    assert events.kinds() == ["contact_created", "message_received", "contact_queued", "message_received"]


class NeverStoredOnce(FakeEvents):
    """The first lot sent never reaches the stream (its leader was killed): the publish fails."""

    failed = False

    async def send(self, *events: GatewayEvent) -> Any:
        if not self.failed:
            self.failed = True
            raise TimeoutError("nats: timeout")
        return await super().send(*events)


async def test_a_retry_after_the_opening_was_never_stored_announces_the_contact_again() -> None:
    # The first try opened the contact (the customer's open contact is recorded) and failed
    # before its events were stored: the provider's retry joins that contact, and must still
    # put its ContactCreated on the stream, or the contact has a message but no beginning.
    events, contacts = NeverStoredOnce(), FakeContacts()
    conversations = Conversations(
        region=REGION,
        store=contacts,
        routing=FakeRouting(),
        endpoints=directory_of(channel_endpoint("acme-queue", queue="support")),
        events=events,
        language_of=Reader(),
    )

    async def accept(provider_id: str) -> Any:
        accepted, _ = await accept_inbound(
            sms(provider_id, entry_point="acme-queue"),
            region=REGION,
            store=contacts,
            identity=FakeIdentity(),
            events=events,
            conversations=conversations,
        )
        return accepted

    with pytest.raises(TimeoutError):
        await accept("SM1")
    assert events.published == []
    accepted = await accept("SM1")
    assert events.kinds() == ["contact_created", "message_received", "contact_queued"]
    assert {e.contact_id for e in events.published} == {accepted.contact_id}
    # Once the contact's first step ran, its next message does not announce it again.
    await accept("SM2")
    assert events.kinds() == ["contact_created", "message_received", "contact_queued", "message_received"]
