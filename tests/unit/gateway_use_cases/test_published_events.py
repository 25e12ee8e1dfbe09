"""What each gateway use case publishes, as domain events handed to its publisher port: the fact,
its header and the id that makes a retry publish nothing twice (the ids the stream always had)."""

from __future__ import annotations

import uuid
from types import SimpleNamespace
from typing import Any

from fakes.gateway_fakes import (
    REGION,
    FakeContacts,
    FakeEvents,
    FakeHistory,
    FakeIdentity,
    FakeOutbox,
    FakeProvider,
    FakeReceipts,
    FakeRouting,
    FakeVoiceCalls,
    FakeWorkspaceStore,
    channel_endpoint,
    directory_of,
    sms,
)

from ccmesh.auth import Caller
from ccmesh.envelope import new_event, stable_event_id
from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2
from contactcenter.routing.v1 import routing_pb2
from gateway.adapters.provider_receipts import Receipt as SentReceipt
from gateway.adapters.workspace_store import HeldContact
from gateway.domain import events as ev
from gateway.domain.contact import ChannelLeg, ContactRecord
from gateway.domain.learned import Learned
from gateway.domain.outbound_message import DeliveryFailed
from gateway.domain.visitor_token import visitor_key
from gateway.service_layer.accept_inbound import accept_inbound
from gateway.service_layer.conversation import Conversations
from gateway.service_layer.delivery_receipts import record_provider_status
from gateway.service_layer.handed_over import HandedOverContacts
from gateway.service_layer.outbound import OutboundDelivery
from gateway.service_layer.voice_bridge import VoiceBridge
from gateway.service_layer.webchat import WebchatService
from gateway.service_layer.workspace import Workspace

SMS = common_pb2.CHANNEL_KIND_SMS
PHONE = common_pb2.IDENTIFIER_KIND_PHONE
ORDERS = channel_endpoint("acme-orders", flow="orders", prompts={"welcome": "Hello from ACME"})
QUEUE = channel_endpoint("acme-queue", queue="support")
VOICE = channel_endpoint("acme-voice", "voice", queue="support")
CHAT = channel_endpoint("acme-chat", "webchat", queue="support", language="en")
ENDPOINTS = directory_of(ORDERS, QUEUE, VOICE, CHAT)


def conversations(events: FakeEvents, contacts: FakeContacts, routing: FakeRouting, **extra: Any) -> Any:
    return Conversations(
        region=REGION, store=contacts, routing=routing, endpoints=ENDPOINTS, events=events, **extra
    )


async def test_a_first_message_creates_the_contact_and_is_received_a_repeat_publishes_nothing() -> None:
    events, contacts = FakeEvents(), FakeContacts()
    message = sms("SM1", brand_id="acme-retail", text="hi", language="en")
    accepted, _ = await accept_inbound(
        message, region=REGION, store=contacts, identity=FakeIdentity(), events=events
    )
    header = {
        "tenant_id": "acme",
        "brand_id": "acme-retail",
        "contact_id": accepted.contact_id,
        "region": REGION,
    }
    assert events.facts == [
        ev.ContactCreated(
            **header,
            event_id=f"{accepted.contact_id}.created",
            channel=SMS,
            customer_id=accepted.customer_id,
            entry_point="",
            from_kind=PHONE,
            from_value="+447700900001",
        ),
        ev.MessageReceived(
            **header,
            event_id=accepted.message_id,
            message_id=accepted.message_id,
            channel=SMS,
            customer_id=accepted.customer_id,
            text="hi",
            provider_message_id="SM1",
            language="en",
        ),
    ]
    await accept_inbound(message, region=REGION, store=contacts, identity=FakeIdentity(), events=events)
    assert len(events.facts) == 2


async def test_a_journeys_prompt_is_a_bot_message_and_its_call_back_a_request_from_the_voice_endpoint() -> (
    None
):
    events, contacts = FakeEvents(), FakeContacts()
    routing = FakeRouting(
        start_actions=[
            routing_pb2.JourneyAction(kind="send_prompt", name="welcome"),
            routing_pb2.JourneyAction(kind="schedule_callback", name="callbacks", channel="voice"),
        ]
    )
    accepted, _ = await accept_inbound(
        sms("SM2", entry_point="acme-orders"),
        region=REGION,
        store=contacts,
        identity=FakeIdentity(),
        events=events,
        conversations=conversations(events, contacts, routing),
    )
    header = {
        "tenant_id": "acme",
        "brand_id": "acme-retail",
        "contact_id": accepted.contact_id,
        "region": REGION,
    }
    _, _, prompt, callback = events.facts
    assert prompt == ev.MessageSent(
        **header,
        event_id=f"{accepted.message_id}.0",
        message_id=f"{accepted.message_id}.0",
        channel=SMS,
        text="Hello from ACME",
        sender="bot",
    )
    assert callback == ev.CallbackRequested(
        **header,
        event_id=f"{accepted.message_id}.1",
        queue="callbacks",
        channel="voice",
        endpoint="acme-voice",
    )


async def test_a_queue_only_contact_is_queued_once_with_what_was_learned() -> None:
    events, contacts = FakeEvents(), FakeContacts()

    async def reader(tenant_id: str, brand_id: str, text: str) -> Learned:
        return Learned("ja", "order_status", -0.25)

    accepted, _ = await accept_inbound(
        sms("SM3", entry_point="acme-queue", text="荷物が届きません"),
        region=REGION,
        store=contacts,
        identity=FakeIdentity(),
        events=events,
        conversations=conversations(events, contacts, FakeRouting(), language_of=reader),
    )
    queued = [fact for fact in events.facts if isinstance(fact, ev.ContactQueued)]
    assert queued == [
        ev.ContactQueued(
            tenant_id="acme",
            brand_id="acme-retail",
            contact_id=accepted.contact_id,
            region=REGION,
            event_id=f"{accepted.contact_id}.queued",
            queue="support",
            channel=SMS,
            language="ja",
            intent="order_status",
            sentiment=-0.25,
        )
    ]


def outbound(events: FakeEvents, contacts: FakeContacts, provider: FakeProvider) -> OutboundDelivery:
    return OutboundDelivery(
        region=REGION,
        store=contacts,
        outbox=FakeOutbox(),
        endpoints=directory_of(channel_endpoint("acme-sms", queue="support")),
        events=events,
        adapters={"twilio": provider},
        twilio=provider,
        public_base_url=lambda: "https://cc.example.com",
        max_attempts=3,
        retry_seconds=1.0,
    )


def reply(message_id: str) -> events_pb2.Event:
    return new_event(
        events_pb2.MessageSent(message_id=message_id, channel=SMS, text="It ships today", sender="agent:ada"),
        tenant_id="acme",
        brand_id="acme-retail",
        region=REGION,
        source="gateway",
        contact_id="c1",
        event_id=message_id,
    )


async def test_a_delivery_outcome_names_the_message_provider_and_attempts_once_per_status() -> None:
    contacts = FakeContacts()
    record = ContactRecord(
        contact_id="c1",
        tenant_id="acme",
        brand_id="acme-retail",
        customer_id="cust-1",
        entry_point="acme-sms",
    ).with_leg(ChannelLeg(channel="sms", endpoint="acme-sms", address="+447700900001"))
    await contacts.change_contact("acme", "c1", lambda _: record)
    header = {"tenant_id": "acme", "brand_id": "acme-retail", "contact_id": "c1", "region": REGION}

    sent = FakeEvents()
    await outbound(sent, contacts, FakeProvider("twilio")).handle(reply("m1"))
    assert sent.facts == [
        ev.MessageStatusChanged(
            **header,
            event_id="m1.status.sent",
            message_id="m1",
            channel=SMS,
            status="sent",
            provider="twilio",
            provider_message_id="twilio-1",
            attempts=1,
        )
    ]

    failed = FakeEvents()
    refusing = FakeProvider("twilio", fail=DeliveryFailed("21610 unsubscribed", transient=False))
    await outbound(failed, contacts, refusing).handle(reply("m2"))
    assert failed.facts == [
        ev.MessageStatusChanged(
            **header,
            event_id="m2.status.failed",
            message_id="m2",
            channel=SMS,
            status="failed",
            provider="twilio",
            reason="21610 unsubscribed",
            attempts=1,
        )
    ]


async def test_a_providers_later_report_is_keyed_by_message_provider_and_status() -> None:
    events, receipts = FakeEvents(), FakeReceipts()
    await receipts.remember("acme", "whatsapp_cloud", "wamid.1", SentReceipt("c1", "m1", "acme-retail"))
    for _ in range(2):  # Meta re-sends its webhook
        await record_provider_status(
            region=REGION,
            tenant_id="acme",
            provider="whatsapp_cloud",
            channel=common_pb2.CHANNEL_KIND_WHATSAPP,
            provider_message_id="wamid.1",
            status="delivered",
            reason="",
            receipts=receipts,
            events=events,
        )
    assert events.facts == [
        ev.MessageStatusChanged(
            tenant_id="acme",
            brand_id="acme-retail",
            contact_id="c1",
            region=REGION,
            event_id="m1.whatsapp_cloud.delivered",
            message_id="m1",
            channel=common_pb2.CHANNEL_KIND_WHATSAPP,
            status="delivered",
            provider="whatsapp_cloud",
            provider_message_id="wamid.1",
        )
    ]


async def test_a_caller_who_hangs_up_in_the_queue_abandons_the_contact_once_per_call() -> None:
    events = FakeEvents()
    bridge = VoiceBridge(
        region=REGION,
        store=FakeContacts(),  # type: ignore[arg-type]
        calls=FakeVoiceCalls(),  # type: ignore[arg-type]
        outbox=FakeOutbox(),  # type: ignore[arg-type]
        endpoints=ENDPOINTS,
        events=events,
        twilio=FakeProvider("twilio"),
        max_attempts=3,
        retry_seconds=1.0,
    )
    await bridge.call_answered(VOICE, call_sid="CA1", contact_id="c1", queued=True)
    await bridge.call_status(VOICE, call_sid="CA1", status="completed")
    await bridge.call_status(VOICE, call_sid="CA1", status="completed")  # Twilio retried
    assert events.facts == [
        ev.ContactClosed(
            tenant_id="acme",
            brand_id="",
            contact_id="c1",
            region=REGION,
            event_id="c1.abandoned.CA1",
            outcome="abandoned",
            closed_by="customer",
        )
    ]


async def test_a_web_chat_call_back_is_requested_once_per_visitor_request() -> None:
    events, contacts, identity = FakeEvents(), FakeContacts(), FakeIdentity()

    async def accept(message: Any) -> Any:
        return await accept_inbound(
            message,
            region=REGION,
            store=contacts,
            identity=identity,
            events=events,
            conversations=conversations(events, contacts, FakeRouting()),
        )

    chat = WebchatService(
        region=REGION,
        history=FakeHistory(events),
        visitor_key=visitor_key("s" * 32),
        accept=accept,
        workspace=FakeWorkspaceStore(),
        contacts=contacts,
        identity=identity,
        endpoints=ENDPOINTS,
        events=events,
    )
    visitor = chat.visitor(None)
    accepted, _ = await chat.post(CHAT, visitor, "client-1", "call me")
    for _ in range(2):  # the widget re-sends after a reconnect
        await chat.request_callback(CHAT, visitor, accepted.contact_id, "+447700900123", "req-1")
    requested = [fact for fact in events.facts if isinstance(fact, ev.CallbackRequested)]
    assert requested == [
        ev.CallbackRequested(
            tenant_id="acme",
            brand_id="acme-retail",
            contact_id=accepted.contact_id,
            region=REGION,
            event_id=stable_event_id("webchat", "acme", visitor.visitor_id, "req-1"),
            queue="support",
            channel="voice",
            endpoint="acme-voice",
        )
    ]


class Routing:
    async def AnswerOffer(self, request: Any, **_: Any) -> Any:
        return SimpleNamespace()


class Ai:
    async def WrapUpConversation(self, request: Any, **_: Any) -> Any:
        ticket = SimpleNamespace(title="Late parcel", category="delivery", priority="normal", summary="")
        return SimpleNamespace(ticket=ticket, summary="Parcel late")


async def test_an_agents_reply_and_wrap_up_are_published_with_the_ids_they_always_had() -> None:
    events, desks = FakeEvents(), FakeWorkspaceStore()
    agent = Caller(tenant_id="acme", role="agent", subject="ada")
    await desks.hold("acme", "ada", HeldContact("c1", "r1", "support", SMS, "cust-1", "acme-retail"))
    workspace = Workspace(
        region=REGION,
        history=FakeHistory(events),
        events=events,
        routing=Routing(),  # type: ignore[arg-type]
        identity=SimpleNamespace(),  # type: ignore[arg-type]
        ai=Ai(),  # type: ignore[arg-type]
        store=desks,
        contacts=FakeContacts(),
    )
    message_id = await workspace.send(agent, "c1", "It ships today", "req-1")
    await workspace.wrap_up(agent, "c1", "resolved", "customer happy")
    header = {"tenant_id": "acme", "brand_id": "acme-retail", "contact_id": "c1", "region": REGION}
    assert events.facts == [
        ev.MessageSent(
            **header,
            event_id=uuid.uuid5(uuid.NAMESPACE_URL, "agent/acme/ada/c1/req-1").hex,
            message_id=message_id,
            channel=SMS,
            text="It ships today",
            sender="agent:ada",
        ),
        ev.ContactWrappedUp(
            **header,
            event_id=uuid.uuid5(uuid.NAMESPACE_URL, "workspace/acme/c1/wrapup/r1").hex,
            agent_id="ada",
            queue="support",
            disposition="resolved",
            notes="customer happy",
        ),
    ]


class CrossingIdentity:
    async def RecordCrossing(self, request: Any, **_: Any) -> Any:
        return SimpleNamespace()

    async def GetCustomer(self, request: Any, **_: Any) -> Any:
        return SimpleNamespace(customer=SimpleNamespace(attributes={}))


async def test_a_handed_over_contact_is_answered_accepted_and_wrapped_up_at_home_once_per_reservation() -> (
    None
):
    events, contacts = FakeEvents(), FakeContacts()
    contacts.open[("acme", "cust-1")] = "c1"
    for payload in (
        events_pb2.ContactCreated(channel=SMS, customer_id="cust-1"),
        events_pb2.ContactOverflowed(
            rule="sun", from_queue="after-hours", to_region="us", to_queue="support"
        ),
    ):
        await events.publish(
            new_event(
                payload, tenant_id="acme", brand_id="acme-retail", region="eu", source="test", contact_id="c1"
            )
        )
    home = HandedOverContacts(
        region="eu",
        history=FakeHistory(events),
        events=events,
        identity=CrossingIdentity(),
        contacts=contacts,
        read_pause=0.0,
    )
    for _ in range(2):  # the us gateway retries each request after a lost answer
        await home.reply("acme", "c1", "us", "carol", "It ships today", "m-us-1")
        await home.accepted("acme", "c1", "us", agent_id="carol", queue="support", reservation_id="r1")
        await home.wrap_up(
            "acme",
            "c1",
            "us",
            agent_id="carol",
            queue="support",
            disposition="resolved",
            notes="",
            reservation_id="r1",
        )
    header = {"tenant_id": "acme", "brand_id": "acme-retail", "contact_id": "c1", "region": "eu"}

    def once(what: str) -> str:
        return stable_event_id("workspace", "acme", "c1", what, "r1")

    assert events.facts == [
        ev.MessageSent(
            **header,
            event_id="m-us-1",
            message_id="m-us-1",
            channel=SMS,
            text="It ships today",
            sender="agent:carol",
        ),
        ev.ContactAccepted(
            **header, event_id=once("accepted"), queue="support", agent_id="carol", reservation_id="r1"
        ),
        ev.ContactWrappedUp(
            **header,
            event_id=once("wrapup"),
            agent_id="carol",
            queue="support",
            disposition="resolved",
            notes="",
        ),
        ev.ContactClosed(**header, event_id=once("closed"), outcome="completed", closed_by="carol"),
    ]
    assert ("acme", "cust-1") not in contacts.open
