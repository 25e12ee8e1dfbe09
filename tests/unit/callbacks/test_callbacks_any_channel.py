"""A customer on any channel asks for a call back and keeps their place: the gateway holds the
number (a chat visitor's, a caller's on hold) and routing turns the waiting contact into a
request; a caller on hold hears the offer inside a one-key `<Gather>`."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pytest
from fakes.gateway_fakes import FakeContacts, channel_endpoint, directory_of

from ccmesh.channels import Channel
from contactcenter.common.v1 import common_pb2
from contactcenter.identity.v1 import identity_pb2
from contactcenter.routing.v1 import routing_pb2
from gateway.domain.callback_number import call_me_request
from gateway.domain.contact import ChannelLeg
from gateway.domain.contact import ContactRecord as GatewayContact
from gateway.domain.twiml import CALLBACK_KEY, DEFAULT_CALLBACK_OFFER, render_hold
from gateway.service_layer import queued_callbacks
from gateway.service_layer.queued_callbacks import QueuedCallbacks
from routing.domain.callbacks import REQUEST_TEXT_GIVEN_NUMBER, request_text
from routing.domain.events import CallbackScheduled
from tests.unit.callbacks.test_callback_commands import TENANT, World


async def test_a_chat_whose_number_the_gateway_holds_keeps_its_place_as_a_request() -> None:
    world = World()
    await world.arrive("chat-1", channel=Channel.WEBCHAT, at=100.0)
    record = await world.requests.request(TENANT, "chat-1")
    assert record is not None
    assert (record.closed_action, record.contact.enqueued_at) == ("callback", 100.0)
    told = [e for e in world.events if isinstance(e, CallbackScheduled)]
    assert [(e.contact_id, e.text) for e in told] == [("chat-1", REQUEST_TEXT_GIVEN_NUMBER)]
    # Asked again (the widget re-sends after a reconnect): still a request, nothing told twice.
    assert await world.requests.request(TENANT, "chat-1") is not None
    assert len([e for e in world.events if isinstance(e, CallbackScheduled)]) == 1
    # A contact that waits in no queue keeps no place.
    assert await world.requests.request(TENANT, "nobody") is None
    assert request_text(Channel.SMS) != REQUEST_TEXT_GIVEN_NUMBER


async def contact_on(
    channel: Channel, endpoint: str, address: str, contact_id: str
) -> tuple[FakeContacts, GatewayContact]:
    """The gateway's contacts holding `contact_id` (of customer cu-<its id>, on one channel leg),
    and its record."""
    contacts = FakeContacts()
    record = GatewayContact(
        contact_id=contact_id,
        tenant_id="acme",
        brand_id="",
        customer_id=f"cu-{contact_id}",
        entry_point=endpoint,
    ).with_leg(ChannelLeg(channel.value, endpoint, address))
    await contacts.change_contact("acme", contact_id, lambda _: record)
    return contacts, record


class Routing:
    def __init__(self, scheduled: bool) -> None:
        self.scheduled = scheduled
        self.asked: list[routing_pb2.RequestCallbackRequest] = []

    async def RequestCallback(self, request: routing_pb2.RequestCallbackRequest, **_: Any) -> Any:
        self.asked.append(request)
        return routing_pb2.RequestCallbackResponse(contact_id=request.contact_id, scheduled=self.scheduled)


async def test_the_gateway_writes_the_number_to_call_before_routing_keeps_the_place() -> None:
    contacts, _ = await contact_on(Channel.WEBCHAT, "acme-chat", "visitor-1", "c-1")
    routing = Routing(scheduled=True)
    directory = directory_of(channel_endpoint("acme-voice", "voice", queue="support"))
    callbacks = QueuedCallbacks(contacts=contacts, routing=routing, endpoints=directory)
    assert await callbacks.keep_place("acme", "c-1", "+447700900123") is True
    stored, _ = await contacts.contact("acme", "c-1")
    assert stored is not None
    voice = stored.legs[Channel.VOICE.value]
    assert (voice.address, voice.endpoint) == ("+447700900123", "acme-voice")
    assert stored.last_channel == Channel.WEBCHAT.value  # replies still go to the chat
    assert [(r.tenant_id, r.contact_id) for r in routing.asked] == [("acme", "c-1")]
    routing.scheduled = False
    assert await callbacks.keep_place("acme", "c-1", "+447700900123") is False


class RoutingCatchingUp(Routing):
    """Routing whose intake takes the contact into its queue after `late` asks."""

    def __init__(self, late: int) -> None:
        super().__init__(scheduled=False)
        self.late = late

    async def RequestCallback(self, request: routing_pb2.RequestCallbackRequest, **_: Any) -> Any:
        self.scheduled = len(self.asked) >= self.late
        return await super().RequestCallback(request)


async def test_a_key_pressed_before_routing_queued_the_call_is_kept_once_it_has(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(queued_callbacks, "QUEUE_ASK_SPACING", 0.0)
    contacts, _ = await contact_on(Channel.VOICE, "acme-voice", "+447700900124", "c-2")
    directory = directory_of(channel_endpoint("acme-voice", "voice", queue="support"))
    routing = RoutingCatchingUp(late=2)
    callbacks = QueuedCallbacks(contacts=contacts, routing=routing, endpoints=directory)
    assert await callbacks.keep_place("acme", "c-2", "+447700900124", wait_for_queue=5.0) is True
    assert len(routing.asked) == 3
    # Without the wait the first "no" stands; a routing that never queues it is a no in the end.
    routing = RoutingCatchingUp(late=2)
    callbacks = QueuedCallbacks(contacts=contacts, routing=routing, endpoints=directory)
    assert await callbacks.keep_place("acme", "c-2", "+447700900124") is False
    assert len(routing.asked) == 1
    routing = RoutingCatchingUp(late=10**9)
    callbacks = QueuedCallbacks(contacts=contacts, routing=routing, endpoints=directory)
    assert await callbacks.keep_place("acme", "c-2", "+447700900124", wait_for_queue=0.05) is False
    assert len(routing.asked) > 1


def test_a_caller_on_hold_is_offered_the_call_back_key_inside_a_one_key_gather() -> None:
    twiml = render_hold(prompts={}, wait_url="https://gw/wait", callback_url="https://gw/hold-key")
    root = ET.fromstring(twiml.split("?>", 1)[1])
    gather, redirect = list(root)
    assert (gather.tag, gather.get("action"), gather.get("numDigits"), gather.get("input")) == (
        "Gather",
        "https://gw/hold-key",
        "1",
        "dtmf",
    )
    assert [s.text for s in gather][-1] == DEFAULT_CALLBACK_OFFER and CALLBACK_KEY in DEFAULT_CALLBACK_OFFER
    assert (redirect.tag, redirect.text) == ("Redirect", "https://gw/wait")
    # Without call backs the hold message is as before: no Gather, a pause between rounds.
    plain = ET.fromstring(render_hold(prompts={}, wait_url="https://gw/wait").split("?>", 1)[1])
    assert [e.tag for e in plain] == ["Say", "Pause", "Redirect"]


@pytest.mark.parametrize(
    ("text", "asked"),
    [
        ("CALL ME", (True, "")),
        ("Call me on +44 20 7183-8750 please", (True, "+442071838750")),
        ("call me back at +1 (415) 555 0100.", (True, "+14155550100")),
        ("Can you call me about my order at +44 20 7183 8750?", (False, "")),
        ("my number is +44 20 7183 8750", (False, "")),
        ("", (False, "")),
    ],
)
def test_an_email_asks_for_a_call_back_with_or_without_a_number(text: str, asked: tuple[bool, str]) -> None:
    assert call_me_request(text) == asked


class Profiles:
    def __init__(self, *phones: str) -> None:
        self.phones = phones

    async def GetCustomer(self, request: identity_pb2.GetCustomerRequest, **_: Any) -> Any:
        identifiers = [common_pb2.Identifier(kind=common_pb2.IDENTIFIER_KIND_EMAIL, value="a@b.example")]
        identifiers += [
            common_pb2.Identifier(kind=common_pb2.IDENTIFIER_KIND_PHONE, value=p) for p in self.phones
        ]
        customer = identity_pb2.Customer(customer_id=request.customer_id, identifiers=identifiers)
        return identity_pb2.GetCustomerResponse(customer=customer)


async def test_an_email_call_me_uses_the_written_number_else_the_senders_profile_phone() -> None:
    contacts, mail = await contact_on(Channel.EMAIL, "acme-mail", "a@b.example", "m-1")
    directory = directory_of(channel_endpoint("acme-voice", "voice", queue="support"))

    def callbacks(profiles: Profiles) -> QueuedCallbacks:
        return QueuedCallbacks(
            contacts=contacts, routing=Routing(scheduled=True), endpoints=directory, profiles=profiles
        )

    async def number() -> str:
        stored, _ = await contacts.contact("acme", "m-1")
        assert stored is not None
        return stored.number_to_call()

    assert await callbacks(Profiles("+447700900555")).on_email(mail, "Thanks for the update") is None
    assert await callbacks(Profiles()).on_email(mail, "CALL ME") is False  # no number known
    assert await number() == ""
    assert await callbacks(Profiles("+447700900555")).on_email(mail, "Call me") is True
    assert await number() == "+447700900555"
    assert await callbacks(Profiles("+447700900555")).on_email(mail, "call me on +44 7700 900666") is True
    assert await number() == "+447700900666"
