"""The gateway's domain events on the wire: each kind becomes the protobuf `Event` the gateway has
always published (header, payload and event id), written out here field by field."""

from __future__ import annotations

from typing import Any

import pytest

from ccmesh.envelope import SCHEMA_VERSION, timestamp_at
from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2
from gateway.adapters.event_codec import StreamEvents, to_protobuf
from gateway.domain import events as ev
from gateway.domain.inbound import Attachment

SMS = common_pb2.CHANNEL_KIND_SMS
VOICE = common_pb2.CHANNEL_KIND_VOICE
HEADER: ev.EventHeader = {
    "tenant_id": "acme",
    "brand_id": "acme-retail",
    "contact_id": "c1",
    "region": "eu",
    "event_id": "e1",
}


def expected(**payload: Any) -> events_pb2.Event:
    """The envelope every gateway event has, around one payload field."""
    return events_pb2.Event(
        event_id="e1",
        tenant=common_pb2.TenantRef(tenant_id="acme", brand_id="acme-retail"),
        region="eu",
        contact_id="c1",
        source="gateway",
        schema_version=SCHEMA_VERSION,
        **payload,
    )


def created_payload() -> events_pb2.ContactCreated:
    created = events_pb2.ContactCreated(channel=SMS, customer_id="cust-1", entry_point="acme-sms")
    getattr(created, "from").CopyFrom(
        common_pb2.Identifier(kind=common_pb2.IDENTIFIER_KIND_PHONE, value="+447700900001")
    )
    return created


CASES = [
    (
        ev.ContactCreated(
            **HEADER,
            channel=SMS,
            customer_id="cust-1",
            entry_point="acme-sms",
            from_kind=common_pb2.IDENTIFIER_KIND_PHONE,
            from_value="+447700900001",
        ),
        expected(contact_created=created_payload()),
    ),
    (
        ev.MessageReceived(
            **HEADER,
            message_id="m1",
            channel=common_pb2.CHANNEL_KIND_EMAIL,
            customer_id="cust-1",
            text="invoice attached",
            provider_message_id="<abc@mail>",
            subject="Invoice",
            language="en",
            sender_name="Dana",
            attachments=(Attachment("inv.pdf", "application/pdf", 1234, "ab" * 32, "att-eu", "acme/ab"),),
        ),
        expected(
            message_received=events_pb2.MessageReceived(
                message_id="m1",
                channel=common_pb2.CHANNEL_KIND_EMAIL,
                customer_id="cust-1",
                text="invoice attached",
                provider_message_id="<abc@mail>",
                subject="Invoice",
                language="en",
                sender_name="Dana",
                attachments=[
                    events_pb2.AttachmentRef(
                        filename="inv.pdf",
                        content_type="application/pdf",
                        size=1234,
                        sha256="ab" * 32,
                        bucket="att-eu",
                        object="acme/ab",
                    )
                ],
            )
        ),
    ),
    (
        ev.ContactQueued(
            **HEADER, queue="support", channel=SMS, language="ja", intent="order_status", sentiment=-0.5
        ),
        expected(
            contact_queued=events_pb2.ContactQueued(
                queue="support",
                channel=SMS,
                language="ja",
                intent="order_status",
                sentiment=-0.5,
                brand="acme-retail",
            )
        ),
    ),
    (
        ev.MessageSent(**HEADER, message_id="m2", channel=SMS, text="It ships today", sender="agent:ada"),
        expected(
            message_sent=events_pb2.MessageSent(
                message_id="m2", channel=SMS, text="It ships today", sender="agent:ada"
            )
        ),
    ),
    (
        ev.CallbackRequested(**HEADER, queue="callbacks", channel="voice", endpoint="acme-voice"),
        expected(
            callback_requested=events_pb2.CallbackRequested(
                queue="callbacks", channel="voice", endpoint="acme-voice"
            )
        ),
    ),
    (
        ev.CallbackAttemptFailed(
            **HEADER,
            queue="support",
            attempt=1,
            attempts_allowed=3,
            status="no-answer",
            final=False,
            retry_at=1_700_000_060.0,
            endpoint="acme-voice",
            agent_id="ann",
            first_request="r1",
        ),
        expected(
            callback_attempt_failed=events_pb2.CallbackAttemptFailed(
                queue="support",
                attempt=1,
                attempts_allowed=3,
                status="no-answer",
                final=False,
                retry_at=timestamp_at(1_700_000_060.0),
                endpoint="acme-voice",
                agent_id="ann",
                first_request="r1",
            )
        ),
    ),
    (
        ev.MessageStatusChanged(
            **HEADER,
            message_id="m2",
            channel=SMS,
            status="failed",
            provider="twilio",
            provider_message_id="SM9",
            reason="21610 unsubscribed",
            attempts=3,
        ),
        expected(
            message_status_changed=events_pb2.MessageStatusChanged(
                message_id="m2",
                channel=SMS,
                status="failed",
                provider_message_id="SM9",
                reason="21610 unsubscribed",
                attempts=3,
                provider="twilio",
            )
        ),
    ),
    (
        ev.ContactAccepted(**HEADER, queue="support", agent_id="ada", reservation_id="r1"),
        expected(
            contact_accepted=events_pb2.ContactAccepted(queue="support", agent_id="ada", reservation_id="r1")
        ),
    ),
    (
        ev.ContactWrappedUp(**HEADER, agent_id="ada", queue="support", disposition="resolved", notes="ok"),
        expected(
            contact_wrapped_up=events_pb2.ContactWrappedUp(
                agent_id="ada", queue="support", disposition="resolved", notes="ok"
            )
        ),
    ),
    (
        ev.ContactClosed(**HEADER, outcome="abandoned", closed_by="customer"),
        expected(contact_closed=events_pb2.ContactClosed(outcome="abandoned", closed_by="customer")),
    ),
    (
        ev.ContactDeflected(
            **HEADER,
            queue="support",
            channel=SMS,
            ceiling="queue",
            max_waiting=3,
            waiting=4,
            estimated_wait_seconds=float("inf"),
            offered=("estimated_wait", "self_service"),
        ),
        # An unbounded wait travels as -1.
        expected(
            contact_deflected=events_pb2.ContactDeflected(
                queue="support",
                channel=SMS,
                ceiling="queue",
                max_waiting=3,
                waiting=4,
                estimated_wait_seconds=-1.0,
                offered=["estimated_wait", "self_service"],
            )
        ),
    ),
]


def test_every_kind_of_gateway_event_has_a_case() -> None:
    # Read from the module: `__subclasses__` also lists the classes `slots=True` replaced.
    defined = {
        kind
        for kind in vars(ev).values()
        if isinstance(kind, type) and issubclass(kind, ev.GatewayEvent) and kind is not ev.GatewayEvent
    }
    assert {type(event) for event, _ in CASES} == defined


@pytest.mark.parametrize(("event", "wire"), CASES, ids=[type(e).__name__ for e, _ in CASES])
def test_each_domain_event_becomes_the_protobuf_the_gateway_always_published(
    event: ev.GatewayEvent, wire: events_pb2.Event
) -> None:
    encoded = to_protobuf(event)
    assert encoded.occurred_at.seconds > 0
    encoded.ClearField("occurred_at")
    assert encoded == wire


def test_an_empty_identifier_still_names_the_sender_field_as_before() -> None:
    # The old code always set `from`, even to an empty identifier; readers test HasField.
    event = ev.ContactCreated(
        **HEADER, channel=SMS, customer_id="c", entry_point="", from_kind=0, from_value=""
    )
    assert to_protobuf(event).contact_created.HasField("from")


def test_the_bare_base_event_is_refused_with_its_name() -> None:
    with pytest.raises(TypeError, match="GatewayEvent has no protobuf payload"):
        to_protobuf(ev.GatewayEvent(**HEADER))


class Stream:
    def __init__(self) -> None:
        self.published: list[events_pb2.Event] = []

    async def publish(self, event: events_pb2.Event, timeout: float = 5.0) -> str:
        self.published.append(event)
        return "ack"

    async def send(self, events: list[events_pb2.Event], timeout: float = 5.0) -> Any:
        self.published.extend(events)

        async def acknowledged() -> list[str]:
            return ["ack"] * len(events)

        return acknowledged()


async def test_the_publisher_sends_several_events_in_their_order_and_hands_back_their_acks() -> None:
    stream = Stream()
    closed = ev.ContactClosed(**HEADER, outcome="completed", closed_by="ada")
    sent = ev.MessageSent(
        **{**HEADER, "event_id": "e2"}, message_id="e2", channel=SMS, text="hi", sender="bot"
    )
    acknowledged = await StreamEvents(stream).send(closed, sent)
    assert [e.event_id for e in stream.published] == ["e1", "e2"]
    assert await acknowledged == ["ack", "ack"]


async def test_the_publisher_puts_the_encoded_event_on_the_stream_and_returns_its_answer() -> None:
    stream = Stream()
    event = ev.ContactClosed(**HEADER, outcome="completed", closed_by="ada")
    assert await StreamEvents(stream).publish(event) == "ack"
    (published,) = stream.published
    assert published.event_id == "e1" and published.contact_closed.closed_by == "ada"


def test_domain_events_are_values_that_cannot_change() -> None:
    event = ev.ContactClosed(**HEADER, outcome="completed", closed_by="ada")
    with pytest.raises(AttributeError):
        event.outcome = "abandoned"  # type: ignore[misc]
    assert event == ev.ContactClosed(**HEADER, outcome="completed", closed_by="ada")
