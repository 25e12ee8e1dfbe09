"""`WebchatService` over fakes: visitors, their messages through the one inbound use case, the
history the widget shows, and a call back placed from the tenant's own voice endpoint."""

from __future__ import annotations

import functools

import pytest
from fakes.gateway_fakes import (
    REGION,
    FakeContacts,
    FakeEvents,
    FakeHistory,
    FakeIdentity,
    FakeRouting,
    FakeWorkspaceStore,
    channel_endpoint,
    directory_of,
)

from gateway.domain.socket_protocol import SocketError
from gateway.domain.visitor_token import visitor_key
from gateway.service_layer.accept_inbound import accept_inbound
from gateway.service_layer.conversation import Conversations
from gateway.service_layer.webchat import WebchatService

CHAT = channel_endpoint("acme-chat", "webchat", queue="support", language="en")
ENDPOINTS = (
    CHAT,
    channel_endpoint("acme-voice", "voice", queue="support"),
    channel_endpoint("globex-voice", "voice", tenant="globex", queue="support"),
)


class World:
    def __init__(self, *endpoints: object) -> None:
        self.contacts, self.events, self.identity = FakeContacts(), FakeEvents(), FakeIdentity()
        self.visitors = FakeWorkspaceStore()
        directory = directory_of(*(endpoints or ENDPOINTS))  # type: ignore[arg-type]
        conversations = Conversations(
            region=REGION, store=self.contacts, routing=FakeRouting(), endpoints=directory, events=self.events
        )
        accept = functools.partial(
            accept_inbound,
            region=REGION,
            store=self.contacts,
            identity=self.identity,
            events=self.events,
            conversations=conversations,
        )
        self.chat = WebchatService(
            region=REGION,
            history=FakeHistory(self.events),
            visitor_key=visitor_key("s" * 32),
            accept=accept,  # type: ignore[arg-type]
            workspace=self.visitors,
            contacts=self.contacts,
            identity=self.identity,
            endpoints=directory,
            events=self.events,
        )


async def test_a_visitor_keeps_its_id_with_its_token_and_a_bad_token_gets_a_new_one() -> None:
    world = World()
    first = world.chat.visitor(None)
    assert first.new
    again = world.chat.visitor(first.token)
    assert not again.new and again.visitor_id == first.visitor_id
    forged = world.chat.visitor(first.token[:-2] + "xx")
    assert forged.new and forged.visitor_id != first.visitor_id


async def test_messages_open_one_contact_and_a_resent_message_is_a_duplicate() -> None:
    world = World()
    visitor = world.chat.visitor(None)
    accepted, duplicate = await world.chat.post(CHAT, visitor, "client-1", "hello")
    assert not duplicate and accepted.contact_created
    _, duplicate = await world.chat.post(CHAT, visitor, "client-1", "hello")  # after a reconnect
    assert duplicate
    # The endpoint queues the contact (no journey): the widget's visitor is in line for an agent.
    assert [e.contact_queued.queue for e in world.events.of_kind("contact_queued")] == ["support"]
    returning = world.chat.visitor(visitor.token)
    assert await world.chat.open_contact(CHAT, returning) == accepted.contact_id
    history = await world.chat.history(CHAT, accepted.contact_id)
    assert [item.get("text") for item in history if item.get("text")] == ["hello"]


async def test_a_bad_message_is_refused_with_what_is_wrong_and_nothing_is_published() -> None:
    world = World()
    with pytest.raises(SocketError) as refused:
        await world.chat.post(CHAT, world.chat.visitor(None), "client-1", "x" * 100_000)
    assert refused.value.code == "bad_request" and "text" in str(refused.value)
    assert world.events.published == []


async def test_a_call_back_links_the_phone_and_names_the_tenants_voice_endpoint() -> None:
    world = World()
    visitor = world.chat.visitor(None)
    accepted, _ = await world.chat.post(CHAT, visitor, "client-1", "call me")
    outcome = await world.chat.request_callback(CHAT, visitor, accepted.contact_id, "+447700900123", "req-1")
    assert outcome == "requested"
    (requested,) = world.events.of_kind("callback_requested")
    assert requested.callback_requested.endpoint == "acme-voice"
    # Identity now knows the phone and the visitor are one customer.
    assert (
        world.identity.customers[("acme", "+447700900123")]
        == world.identity.customers[("acme", visitor.visitor_id)]
    )
    record, _ = await world.contacts.contact("acme", accepted.contact_id)
    assert record is not None and record.legs["voice"].address == "+447700900123"


async def test_without_a_voice_endpoint_of_its_own_the_tenant_gets_no_call_back_endpoint() -> None:
    world = World(CHAT, channel_endpoint("globex-voice", "voice", tenant="globex", queue="support"))
    visitor = world.chat.visitor(None)
    accepted, _ = await world.chat.post(CHAT, visitor, "client-1", "call me")
    assert await world.chat.request_callback(CHAT, visitor, accepted.contact_id, "+447700900123", "r") == (
        "no_voice_endpoint"
    )
    (requested,) = world.events.of_kind("callback_requested")
    assert requested.callback_requested.endpoint == ""


async def test_a_call_back_before_any_message_is_a_conflict() -> None:
    world = World()
    with pytest.raises(SocketError) as refused:
        await world.chat.request_callback(CHAT, world.chat.visitor(None), None, "+447700900123", "r")
    assert refused.value.code == "conflict"
