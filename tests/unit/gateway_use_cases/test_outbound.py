"""`OutboundDelivery` over fakes: replies go out on the contact's leg through its endpoint's
provider, once; failures are reported; another tenant's endpoint is never used; call backs."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest
from fakes.gateway_fakes import (
    REGION,
    FakeContacts,
    FakeEvents,
    FakeOutbox,
    FakeProvider,
    channel_endpoint,
    directory_of,
)

from ccmesh.envelope import new_event, timestamp_at
from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2
from gateway.domain.contact import ChannelLeg, ContactRecord
from gateway.domain.outbound_message import DeliveryFailed
from gateway.service_layer.outbound import OutboundDelivery, RetryLater

SMS = common_pb2.CHANNEL_KIND_SMS
ENDPOINTS = (
    channel_endpoint("acme-sms", queue="support"),
    channel_endpoint("acme-voice", "voice", queue="support"),
    channel_endpoint("globex-sms", tenant="globex", queue="support"),
)


class World:
    def __init__(self, provider: FakeProvider | None = None) -> None:
        self.contacts, self.events, self.outbox = FakeContacts(), FakeEvents(), FakeOutbox()
        self.twilio = provider or FakeProvider("twilio")
        self.delivery = OutboundDelivery(
            region=REGION,
            store=self.contacts,
            outbox=self.outbox,
            endpoints=directory_of(*ENDPOINTS),
            events=self.events,
            adapters={"twilio": self.twilio},
            twilio=self.twilio,
            public_base_url=lambda: "https://cc.example.com",
            max_attempts=3,
            retry_seconds=1.0,
        )

    async def contact(self, endpoint: str, *, tenant: str = "acme") -> None:
        record = ContactRecord(
            contact_id="c1", tenant_id=tenant, brand_id="", customer_id="cust-1", entry_point=endpoint
        ).with_leg(ChannelLeg(channel="sms", endpoint=endpoint, address="+447700900001"))
        await self.contacts.change_contact(tenant, "c1", lambda _: record)

    def statuses(self) -> list[tuple[str, str]]:
        return [
            (e.message_status_changed.status, e.message_status_changed.reason)
            for e in self.events.of_kind("message_status_changed")
        ]


def reply(message_id: str = "m1", *, tenant: str = "acme", age: float = 0.0) -> events_pb2.Event:
    return new_event(
        events_pb2.MessageSent(
            message_id=message_id, channel=SMS, text="Your order ships today", sender="agent-1"
        ),
        tenant_id=tenant,
        region=REGION,
        source="gateway",
        contact_id="c1",
        event_id=message_id,
        occurred_at=timestamp_at(time.time() - age),
    )


async def test_a_reply_goes_out_once_on_the_contacts_leg_and_is_reported_sent() -> None:
    world = World()
    await world.contact("acme-sms")
    await world.delivery.handle(reply())
    await world.delivery.handle(reply())  # redelivered after a lost ack
    ((endpoint, message),) = world.twilio.sent
    assert endpoint.metadata.name == "acme-sms" and message.to == "+447700900001"
    assert message.text == "Your order ships today"
    assert world.statuses() == [("sent", "")]


async def test_a_leg_naming_another_tenants_endpoint_is_reported_failed_not_sent() -> None:
    world = World()
    await world.contact("globex-sms")
    await world.delivery.handle(reply())
    assert world.twilio.sent == []
    ((status, reason),) = world.statuses()
    assert status == "failed" and "globex-sms" in reason


async def test_a_transient_failure_is_retried_later_and_a_permanent_one_reported() -> None:
    world = World(FakeProvider("twilio", fail=DeliveryFailed("HTTP 503", transient=True)))
    await world.contact("acme-sms")
    with pytest.raises(RetryLater):
        await world.delivery.handle(reply())
    assert world.statuses() == []
    world.twilio.fail = DeliveryFailed("HTTP 400: invalid number", transient=False)
    # The provider's wait is over (the consumer redelivers after its back-off).
    record, revision = await world.outbox.get("acme", "m1")
    world.outbox.records[("acme", "m1")] = (replace(record, not_before=0.0), revision)
    await world.delivery.handle(reply())
    assert world.statuses() == [("failed", "HTTP 400: invalid number")]


async def test_a_reply_older_than_the_limit_is_reported_not_sent() -> None:
    world = World()
    await world.contact("acme-sms")
    await world.delivery.handle(reply(age=7200))
    assert world.twilio.sent == []
    ((status, reason),) = world.statuses()
    assert status == "failed" and "old" in reason


async def test_a_call_back_is_placed_from_the_tenants_voice_endpoint_to_the_contacts_phone() -> None:
    world = World()
    await world.contact("acme-sms")
    request = new_event(
        events_pb2.CallbackRequested(queue="support", channel="voice", endpoint="acme-voice"),
        tenant_id="acme",
        region=REGION,
        source="gateway",
        contact_id="c1",
        event_id="cb-1",
    )
    await world.delivery.handle(request)
    ((endpoint, call),) = world.twilio.calls
    assert endpoint.metadata.name == "acme-voice" and call.to == "+447700900001"
    assert call.answer_url == "https://cc.example.com/v1/twilio/acme-voice/voice?contact=c1"
