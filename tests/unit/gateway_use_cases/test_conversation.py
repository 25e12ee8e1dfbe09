"""`Conversations` over fakes: a journey starts from the tenant's own endpoint, prompts carry that
endpoint's texts, and another tenant's endpoint is never used, whatever the message names."""

from __future__ import annotations

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

from contactcenter.routing.v1 import routing_pb2
from gateway.domain.contact import ContactRecord, JourneyState
from gateway.service_layer.accept_inbound import accept_inbound
from gateway.service_layer.conversation import Conversations

ACME_PROMPTS = {"welcome": "Hello from ACME", "ask": "Your order number?"}
GLOBEX_PROMPTS = {"welcome": "Globex private welcome", "ask": "Globex private question"}
ENDPOINTS = (
    channel_endpoint("acme-orders", flow="orders", prompts=ACME_PROMPTS),
    channel_endpoint("acme-queue", "whatsapp", queue="support", language="en"),
    channel_endpoint("globex-orders", tenant="globex", flow="orders", prompts=GLOBEX_PROMPTS),
    channel_endpoint("globex-voice", "voice", tenant="globex", queue="support"),
)


def prompt(name: str) -> routing_pb2.JourneyAction:
    return routing_pb2.JourneyAction(kind="send_prompt", name=name)


class World:
    def __init__(self, routing: FakeRouting | None = None) -> None:
        self.contacts, self.events = FakeContacts(), FakeEvents()
        self.routing = routing or FakeRouting(start_actions=[prompt("welcome"), prompt("ask")])
        self.conversations = Conversations(
            region=REGION,
            store=self.contacts,
            routing=self.routing,
            endpoints=directory_of(*ENDPOINTS),
            events=self.events,
        )

    async def accept(self, message: object) -> object:
        accepted, _ = await accept_inbound(
            message,  # type: ignore[arg-type]
            region=REGION,
            store=self.contacts,
            identity=FakeIdentity(),
            events=self.events,
            conversations=self.conversations,
        )
        return accepted

    def texts(self) -> list[str]:
        return [e.message_sent.text for e in self.events.of_kind("message_sent")]


async def test_a_new_contact_of_the_tenants_endpoint_starts_its_journey_and_sends_its_prompts() -> None:
    world = World()
    await world.accept(sms("SM1", entry_point="acme-orders"))
    (started,) = [request for name, request in world.routing.calls if name == "StartJourney"]
    assert (started.tenant_id, started.flow) == ("acme", "orders")
    assert world.texts() == ["Hello from ACME", "Your order number?"]
    assert {e.message_sent.sender for e in world.events.of_kind("message_sent")} == {"bot"}


async def test_a_message_naming_another_tenants_endpoint_starts_nothing_of_that_tenant() -> None:
    world = World()
    accepted = await world.accept(sms("SM1", entry_point="globex-orders"))
    assert world.routing.calls == []
    assert world.events.kinds() == ["contact_created", "message_received"]
    record, _ = await world.contacts.contact("acme", accepted.contact_id)  # type: ignore[attr-defined]
    assert record is not None and record.journey.status == "" and record.brand_id == ""


async def test_a_waiting_journey_naming_another_tenants_endpoint_gets_no_foreign_texts() -> None:
    # A contact record whose entry point is another tenant's endpoint, with a journey waiting for
    # input: the prompts of the next step are looked up for the contact's own tenant only.
    world = World(
        FakeRouting(
            continue_actions=[prompt("welcome")], continue_journey=routing_pb2.Journey(status="ended")
        )
    )
    message = sms("SM2", entry_point="globex-orders", text="A-123")
    customer_contact, _ = await world.contacts.open_contact("acme", "cust-1")
    record = ContactRecord(
        contact_id=customer_contact,
        tenant_id="acme",
        brand_id="",
        customer_id="cust-1",
        entry_point="globex-orders",
        journey=JourneyState(status="waiting", waiting_for="input"),
        started=True,
    )
    await world.contacts.change_contact("acme", customer_contact, lambda _: record)
    world.routing.journeys[customer_contact] = routing_pb2.Journey(status="waiting", waiting_for="input")
    await world.accept(message)
    assert [name for name, _ in world.routing.calls] == ["GetJourney", "ContinueJourney"]
    # The prompt's name goes out (no text of acme's), never globex's text.
    assert world.texts() == ["welcome"]


async def test_a_queue_only_endpoint_queues_the_contact_with_its_channel_language_and_brand() -> None:
    world = World()
    message = sms("wamid.1", entry_point="acme-queue")
    await world.accept(message)
    (queued,) = world.events.of_kind("contact_queued")
    assert (queued.contact_queued.queue, queued.contact_queued.language) == ("support", "en")
    assert queued.contact_queued.brand == "acme-retail"
    assert world.routing.calls == []


async def test_a_call_back_the_journey_offers_names_a_voice_endpoint_of_the_contacts_tenant_only() -> None:
    callback = routing_pb2.JourneyAction(kind="schedule_callback", name="support", channel="voice")
    world = World(FakeRouting(start_actions=[callback]))
    await world.accept(sms("SM1", entry_point="acme-orders"))
    (requested,) = world.events.of_kind("callback_requested")
    # acme has no voice endpoint; globex's is not acme's to call from.
    assert requested.callback_requested.endpoint == ""
    assert requested.callback_requested.queue == "support"


def test_the_endpoint_lookup_refuses_another_tenants_endpoint() -> None:
    directory = directory_of(*ENDPOINTS)
    assert directory.endpoint_for("acme", "acme-orders") is not None
    assert directory.endpoint_for("acme", "globex-orders") is None
    assert directory.endpoint_for("globex", "acme-orders") is None
    assert directory.endpoint_for("acme", "") is None
    assert directory.endpoint_for("acme", "no-such-endpoint") is None
    assert directory.voice_endpoint_for("acme", "acme-retail") is None
    voice = directory.voice_endpoint_for("globex", "other-brand")
    assert voice is not None and voice.metadata.name == "globex-voice"
