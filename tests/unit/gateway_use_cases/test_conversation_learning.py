"""A contact that goes straight to a queue is queued with what the AI service read in its first
message (language, intent, mood); the endpoint's fixed language wins; an AI service with no answer
queues it without one, never not at all."""

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

from gateway.domain.learned import NOTHING, Learned
from gateway.service_layer.accept_inbound import accept_inbound
from gateway.service_layer.conversation import Conversations

ENDPOINTS = (
    channel_endpoint("acme-queue", queue="support"),
    channel_endpoint("acme-german", queue="support", language="de"),
)


class Reader:
    def __init__(self, learned: Learned) -> None:
        self.learned = learned
        self.texts: list[str] = []

    async def __call__(self, tenant_id: str, brand_id: str, text: str) -> Learned:
        self.texts.append(text)
        return self.learned


async def queued_with(reader: Reader, entry_point: str, text: str) -> object:
    events, contacts = FakeEvents(), FakeContacts()
    conversations = Conversations(
        region=REGION,
        store=contacts,
        routing=FakeRouting(),
        endpoints=directory_of(*ENDPOINTS),
        events=events,
        language_of=reader,
    )
    await accept_inbound(
        sms("SM1", entry_point=entry_point, text=text),
        region=REGION,
        store=contacts,
        identity=FakeIdentity(),
        events=events,
        conversations=conversations,
    )
    (event,) = events.of_kind("contact_queued")
    return event.contact_queued


async def test_the_contact_is_queued_with_what_its_first_message_says() -> None:
    reader = Reader(Learned("ja", "order_status", -0.4))
    queued = await queued_with(reader, "acme-queue", "注文した荷物がまだ届きません")
    assert (queued.language, queued.intent, round(queued.sentiment, 2)) == ("ja", "order_status", -0.4)  # type: ignore[attr-defined]
    assert reader.texts == ["注文した荷物がまだ届きません"]


async def test_the_endpoints_fixed_language_wins_and_no_answer_still_queues() -> None:
    german = await queued_with(Reader(Learned("en", "refund", 0.0)), "acme-german", "I want a refund")
    assert (german.language, german.intent) == ("de", "refund")  # type: ignore[attr-defined]
    unknown = await queued_with(Reader(NOTHING), "acme-queue", "hello")
    assert (unknown.language, unknown.intent) == ("", "")  # type: ignore[attr-defined]
