"""The conversation behind every inbound message, with the real identity, routing and gateway:
a new contact starts its endpoint's journey and the bot's prompts become MessageSent events; the
customer's answer continues the waiting journey; a queue-only endpoint hands the contact to the
ACD with its channel; a journey that offers a call back is continued by the customer's call."""

from __future__ import annotations

from typing import Any

import pytest
from _gateway_conversation import apply_endpoints, contact_events, endpoint, kinds, publish_flows
from _platform import Platform, eventually
from google.protobuf import json_format

from contactcenter.common.v1 import common_pb2
from contactcenter.gateway.v1 import gateway_pb2
from contactcenter.gateway.v1.gateway_pb2_grpc import GatewayServiceStub
from contactcenter.routing.v1 import routing_pb2
from contactcenter.routing.v1.routing_pb2_grpc import RoutingServiceStub

pytestmark = pytest.mark.timeout(90)

SMS = common_pb2.CHANNEL_KIND_SMS
VOICE = common_pb2.CHANNEL_KIND_VOICE
WHATSAPP = common_pb2.CHANNEL_KIND_WHATSAPP
PHONE = common_pb2.IDENTIFIER_KIND_PHONE
WHATSAPP_ID = common_pb2.IDENTIFIER_KIND_WHATSAPP_ID

PROMPTS = {
    "welcome": "Hello from ACME!",
    "welcome.es": "¡Hola desde ACME!",
    "ask-order": "What is your order number?",
    "callback-offer": "We will call you back.",
}


def inbound(
    provider_id: str, entry_point: str, text: str, *, channel: int = SMS, kind: int = PHONE, value: str
) -> gateway_pb2.SubmitInboundMessageRequest:
    return gateway_pb2.SubmitInboundMessageRequest(
        tenant=common_pb2.TenantRef(tenant_id="acme", brand_id="acme-retail"),
        channel=channel,  # type: ignore[arg-type]
        entry_point=entry_point,
        text=text,
        provider_message_id=provider_id,
        **{"from": common_pb2.Identifier(kind=kind, value=value)},  # type: ignore[arg-type]
    )


@pytest.fixture
async def running(platform: Platform) -> tuple[Any, Any]:
    await apply_endpoints(
        platform.nc,
        endpoint("orders-sms", "sms", "+442071830001", flow="orders", prompts=PROMPTS),
        endpoint("orders-sms-es", "sms", "+442071830002", flow="orders", language="es", prompts=PROMPTS),
        endpoint("callback-sms", "sms", "+442071830003", flow="callback", prompts=PROMPTS),
        endpoint("callback-voice", "voice", "+442071830004", queue="general-support"),
        endpoint("queue-whatsapp", "whatsapp", "106540352200001", queue="support", language="en"),
    )
    await platform.start("identity", "routing", "gateway")
    await publish_flows(platform.stub(RoutingServiceStub, role="admin"))
    gateway = platform.stub(GatewayServiceStub, role="integration")
    routing = platform.stub(RoutingServiceStub, role="admin")
    return gateway, routing


async def events_until(platform: Platform, contact_id: str, count: int) -> list[Any]:
    async def enough() -> list[Any] | None:
        found = await contact_events(platform.nc, contact_id)
        return found if len(found) >= count else None

    return list(await eventually(enough))


def bot_texts(events: list[Any]) -> list[str]:
    return [e.message_sent.text for e in events if e.WhichOneof("payload") == "message_sent"]


async def test_a_new_contact_starts_the_journey_prompts_go_out_and_the_answer_continues_it(
    platform: Platform,
    running: tuple[Any, Any],
) -> None:
    gateway, routing = running
    first = await gateway.SubmitInboundMessage(inbound("SM-c1", "orders-sms", "hi", value="+447700900001"))
    assert first.contact_created
    events = await events_until(platform, first.contact_id, 4)
    assert kinds(events) == ["contact_created", "message_received", "message_sent", "message_sent"]
    assert bot_texts(events) == ["Hello from ACME!", "What is your order number?"]
    for sent in events[2:]:
        assert (sent.message_sent.sender, sent.message_sent.channel) == ("bot", SMS)
        assert sent.message_sent.message_id == sent.event_id
    journey = await routing.GetJourney(
        routing_pb2.GetJourneyRequest(tenant_id="acme", journey_id=first.contact_id)
    )
    assert (journey.journey.status, journey.journey.waiting_for) == ("waiting", "input")

    # The customer's answer is the input the journey waits for; it then thanks and queues.
    answer = await gateway.SubmitInboundMessage(
        inbound("SM-c2", "orders-sms", "A-123", value="+447700900001")
    )
    assert answer.contact_id == first.contact_id and not answer.contact_created
    events = await events_until(platform, first.contact_id, 8)
    # Routing publishes the hand-off while it runs the step (and the ACD once it holds the
    # contact) and the journey's end; the gateway sends the last prompt.
    assert set(kinds(events)[4:]) == {"contact_queued", "journey_ended", "message_received", "message_sent"}
    # No text configured for `thanks`: the prompt's name goes out rather than nothing.
    assert bot_texts(events)[-1] == "thanks"
    queued = [e.contact_queued for e in events if e.WhichOneof("payload") == "contact_queued"]
    assert {q.queue for q in queued} == {"general-support"}
    journey = await routing.GetJourney(
        routing_pb2.GetJourneyRequest(tenant_id="acme", journey_id=first.contact_id)
    )
    assert journey.journey.status == "ended"
    assert json_format.MessageToDict(journey.journey.attributes)["order"] == "A-123"

    # The provider retries the answer: nothing new is published, the journey is not fed twice.
    stored = await platform.event_count()
    repeat = await gateway.SubmitInboundMessage(
        inbound("SM-c2", "orders-sms", "A-123", value="+447700900001")
    )
    assert repeat.duplicate and repeat.contact_id == first.contact_id
    assert await platform.event_count() == stored


async def test_prompts_use_the_endpoints_language(
    platform: Platform,
    running: tuple[Any, Any],
) -> None:
    gateway, _ = running
    first = await gateway.SubmitInboundMessage(
        inbound("SM-es1", "orders-sms-es", "hola", value="+34600000001")
    )
    events = await events_until(platform, first.contact_id, 4)
    assert bot_texts(events) == ["¡Hola desde ACME!", "What is your order number?"]


async def test_a_queue_only_endpoint_hands_the_contact_to_the_acd_with_its_channel(
    platform: Platform,
    running: tuple[Any, Any],
) -> None:
    gateway, _ = running
    first = await gateway.SubmitInboundMessage(
        inbound(
            "wamid.q1", "queue-whatsapp", "help", channel=WHATSAPP, kind=WHATSAPP_ID, value="447700900002"
        )
    )
    events = await events_until(platform, first.contact_id, 3)
    assert kinds(events)[:3] == ["contact_created", "message_received", "contact_queued"]
    assert events[2].source == "gateway"
    queued = events[2].contact_queued
    assert (queued.queue, queued.channel, queued.brand, queued.language) == (
        "support",
        WHATSAPP,
        "acme-retail",
        "en",
    )
    # A second message on the queued contact queues nothing again.
    await gateway.SubmitInboundMessage(
        inbound(
            "wamid.q2",
            "queue-whatsapp",
            "still there?",
            channel=WHATSAPP,
            kind=WHATSAPP_ID,
            value="447700900002",
        )
    )
    events = await events_until(platform, first.contact_id, 4)
    by_gateway = [kind for kind, e in zip(kinds(events), events, strict=True) if e.source == "gateway"]
    assert by_gateway == ["contact_created", "message_received", "contact_queued", "message_received"]
    # The ACD took the hand-off as it was announced: it does not say the same thing again.
    assert kinds(events).count("contact_queued") == 1


async def test_a_call_while_the_chat_waits_for_its_call_back_continues_the_same_contact_and_journey(
    platform: Platform,
    running: tuple[Any, Any],
) -> None:
    gateway, routing = running
    text = await gateway.SubmitInboundMessage(
        inbound("SM-cb1", "callback-sms", "call me", value="+447700900003")
    )
    events = await events_until(platform, text.contact_id, 4)
    assert kinds(events) == ["contact_created", "message_received", "message_sent", "callback_requested"]
    requested = events[-1].callback_requested
    assert (requested.channel, requested.endpoint, requested.queue) == (
        "voice",
        "callback-voice",
        "general-support",
    )

    # The customer calls in (same number) before the call back is placed: same contact, and the
    # journey that waited for the call back goes on on voice.
    call = await gateway.SubmitInboundMessage(
        inbound("CA-cb2", "callback-voice", "", channel=VOICE, value="+447700900003")
    )
    assert (call.contact_id, call.contact_created) == (text.contact_id, False)
    journey = await routing.GetJourney(
        routing_pb2.GetJourneyRequest(tenant_id="acme", journey_id=text.contact_id)
    )
    assert journey.journey.status == "ended"
    assert journey.journey.channel == "voice"
    assert "connecting" in list(journey.journey.path)
    events = await events_until(platform, text.contact_id, 7)
    # On voice the prompt is spoken in the call (the actions go back to the webhook), not sent.
    assert set(kinds(events)[4:]) == {"message_received", "contact_queued", "journey_ended"}
