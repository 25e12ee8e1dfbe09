"""Follow-the-sun in the gateway: a us agent serves an eu contact through the eu gateway.

The us side is the workspace use case; the eu side is `HandedOverContacts`; between them, a
fake "mesh" that calls the eu use case the way its RPC handlers do. Nothing of the customer is
kept in us: the eu stream holds the conversation, us keeps only the desk entry.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import grpc
import pytest

from ccmesh.auth import Caller
from ccmesh.envelope import new_event
from ccmesh.status import RpcError
from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2
from contactcenter.gateway.v1 import gateway_pb2
from contactcenter.routing.v1 import routing_pb2
from gateway.domain.handed_over import NotHandedOver, display_name
from gateway.domain.socket_protocol import SocketError
from gateway.domain.socket_views import customer_view
from gateway.domain.workspace_state import Offer
from gateway.service_layer.handed_over import HandedOverContacts
from gateway.service_layer.workspace import Workspace
from tests.unit.fakes.gateway_fakes import FakeContacts, FakeEvents, FakeHistory, FakeWorkspaceStore

TENANT, CONTACT, CUSTOMER = "acme", "c-1", "cust-1"
PHONE = "+447700900123"
AGENT = Caller(tenant_id=TENANT, role="agent", subject="carol")


class CrossingIdentity:
    """eu identity: the customer's name, and every crossing it was asked to record."""

    def __init__(self) -> None:
        self.crossings: list[Any] = []

    async def RecordCrossing(self, request: Any, **_: Any) -> Any:
        self.crossings.append(request)
        return SimpleNamespace()

    async def GetCustomer(self, request: Any, **_: Any) -> Any:
        if request.customer_id != CUSTOMER:
            raise RpcError(grpc.StatusCode.NOT_FOUND, "no such customer")
        return SimpleNamespace(customer=SimpleNamespace(attributes={"name": "Dana Customer"}))


class Mesh:
    """The us gateway's stub of the eu gateway: calls the eu use case as its handlers do."""

    def __init__(self, home: HandedOverContacts) -> None:
        self.home = home
        self.regions: list[str] = []

    async def GetHandedOverContact(self, request: Any, **kwargs: Any) -> Any:
        self.regions.append(kwargs["region"])
        view = await self.home.view(
            request.tenant.tenant_id, request.contact_id, request.requesting_region, request.agent_id
        )
        return gateway_pb2.GetHandedOverContactResponse(events=view.events, display_name=view.display_name)

    async def SendHandedOverReply(self, request: Any, **kwargs: Any) -> Any:
        self.regions.append(kwargs["region"])
        await self.home.reply(
            request.tenant.tenant_id,
            request.contact_id,
            request.requesting_region,
            request.agent_id,
            request.text,
            request.message_id,
        )
        return gateway_pb2.SendHandedOverReplyResponse(message_id=request.message_id)

    async def WrapUpHandedOverContact(self, request: Any, **kwargs: Any) -> Any:
        self.regions.append(kwargs["region"])
        await self.home.wrap_up(
            request.tenant.tenant_id,
            request.contact_id,
            request.requesting_region,
            agent_id=request.agent_id,
            queue=request.queue,
            disposition=request.disposition,
            notes=request.notes,
            reservation_id=request.reservation_id,
        )
        return gateway_pb2.WrapUpHandedOverContactResponse()

    async def AcceptHandedOverContact(self, request: Any, **kwargs: Any) -> Any:
        self.regions.append(kwargs["region"])
        await self.home.accepted(
            request.tenant.tenant_id,
            request.contact_id,
            request.requesting_region,
            agent_id=request.agent_id,
            queue=request.queue,
            reservation_id=request.reservation_id,
        )
        return gateway_pb2.AcceptHandedOverContactResponse()


class UsRouting:
    def __init__(self) -> None:
        self.answers: list[int] = []

    async def AnswerOffer(self, request: Any, **_: Any) -> Any:
        self.answers.append(request.answer)
        return SimpleNamespace()


class NoAi:
    async def WrapUpConversation(self, request: Any, **_: Any) -> Any:
        raise AssertionError("the us AI has no conversation to summarise")


def _eu_event(payload: Any, brand: str = "acme-retail") -> events_pb2.Event:
    return new_event(
        payload, tenant_id=TENANT, brand_id=brand, region="eu", source="test", contact_id=CONTACT
    )


@pytest.fixture
def world() -> SimpleNamespace:
    eu_events, us_events = FakeEvents(), FakeEvents()
    eu_contacts = FakeContacts()
    eu_contacts.open[(TENANT, CUSTOMER)] = CONTACT
    identifier = common_pb2.Identifier(kind=common_pb2.IDENTIFIER_KIND_PHONE, value=PHONE)
    created = events_pb2.ContactCreated(
        channel=common_pb2.CHANNEL_KIND_SMS, customer_id=CUSTOMER, entry_point="+442071838750"
    )
    getattr(created, "from").CopyFrom(identifier)
    eu_events.published += [
        _eu_event(created),
        _eu_event(
            events_pb2.MessageReceived(
                message_id="m-1",
                channel=common_pb2.CHANNEL_KIND_SMS,
                customer_id=CUSTOMER,
                text="my parcel is late",
                provider_message_id="SM-provider-1",
            )
        ),
        _eu_event(
            events_pb2.ContactOverflowed(
                rule="sun", from_queue="after-hours", to_region="us", to_queue="support"
            )
        ),
    ]
    identity = CrossingIdentity()
    home = HandedOverContacts(
        region="eu",
        history=FakeHistory(eu_events),
        events=eu_events,
        identity=identity,
        contacts=eu_contacts,
        read_pause=0.0,
    )
    mesh, routing, desks = Mesh(home), UsRouting(), FakeWorkspaceStore()
    workspace = Workspace(
        region="us",
        history=FakeHistory(us_events),
        events=us_events,
        routing=routing,  # type: ignore[arg-type]
        identity=SimpleNamespace(),
        ai=NoAi(),  # type: ignore[arg-type]
        store=desks,
        contacts=FakeContacts(),
        home_gateways=mesh,
    )
    offer = Offer("r-1", CONTACT, "support", 0.0, home_region="eu")
    return SimpleNamespace(
        eu_events=eu_events,
        us_events=us_events,
        eu_contacts=eu_contacts,
        identity=identity,
        mesh=mesh,
        routing=routing,
        desks=desks,
        workspace=workspace,
        offer=offer,
    )


async def test_remote_agent_sees_channel_name_and_conversation_each_read_a_crossing(world: Any) -> None:
    offer = await world.workspace.offer_view(AGENT, world.offer)
    assert offer["channel"] == "sms"
    assert offer["customer"]["displayName"] == "Dana Customer"
    assert offer["customer"]["firstMessage"] == "my parcel is late"
    held = await world.workspace.accept(AGENT, world.offer)
    assert held.home_region == "eu" and held.customer_id == ""  # nothing of the customer kept in us
    view = await world.workspace.conversation(AGENT, held)
    assert [m["text"] for m in view["messages"]] == ["my parcel is late"]
    assert view["channel"] == "sms" and view["displayName"] == "Dana Customer"
    assert {c.to_region for c in world.identity.crossings} == {"us"}
    assert len(world.identity.crossings) == 3  # offer, accept, conversation: one per read
    assert world.identity.crossings[0].actor == "agent:carol"
    assert set(world.mesh.regions) == {"eu"}


async def test_the_remote_view_carries_no_identifier_or_provider_id(world: Any) -> None:
    view = await world.mesh.home.view(TENANT, CONTACT, "us", "carol")
    shown = b"".join(event.SerializeToString() for event in view.events)
    assert PHONE.encode() not in shown
    assert b"SM-provider-1" not in shown and b"+442071838750" not in shown
    assert b"my parcel is late" in shown


async def test_reply_is_published_in_the_home_region_once(world: Any) -> None:
    await world.workspace.accept(AGENT, world.offer)
    first = await world.workspace.send(AGENT, CONTACT, "it arrives tomorrow", "req-1")
    again = await world.workspace.send(AGENT, CONTACT, "it arrives tomorrow", "req-1")
    assert first == again
    sent = world.eu_events.of_kind("message_sent")
    assert len(sent) == 1
    assert sent[0].region == "eu" and sent[0].message_sent.channel == common_pb2.CHANNEL_KIND_SMS
    assert sent[0].message_sent.sender == "agent:carol"
    assert world.us_events.published == []  # nothing of the conversation lands in us


async def test_wrap_up_closes_at_home_and_completes_here(world: Any) -> None:
    await world.workspace.accept(AGENT, world.offer)
    ticket = await world.workspace.wrap_up(AGENT, CONTACT, "resolved", "sent a voucher")
    assert ticket is None
    assert [e.WhichOneof("payload") for e in world.eu_events.published[-2:]] == [
        "contact_wrapped_up",
        "contact_closed",
    ]
    assert (TENANT, CUSTOMER) not in world.eu_contacts.open  # the next message opens a new contact
    assert world.routing.answers[-1] == routing_pb2.OFFER_ANSWER_COMPLETE
    assert await world.desks.desk(TENANT, "carol") == {}


async def test_accepting_tells_the_home_customer_that_an_agent_joined_as_a_local_accept_does(
    world: Any,
) -> None:
    await world.workspace.accept(AGENT, world.offer)
    accepted = world.eu_events.of_kind("contact_accepted")
    assert len(accepted) == 1 and accepted[0].region == "eu"
    assert (accepted[0].contact_accepted.agent_id, accepted[0].contact_accepted.queue) == ("carol", "support")
    # The web chat socket in eu turns it into the frame a customer served in eu gets.
    local = _eu_event(events_pb2.ContactAccepted(queue="support", agent_id="erin", reservation_id="r-9"))
    assert customer_view(accepted[0]) == customer_view(local)
    assert customer_view(accepted[0])["type"] == "agent_joined"  # type: ignore[index]
    # Nothing of the customer is sent to eu's event for it, and nothing lands in us.
    assert PHONE.encode() not in accepted[0].SerializeToString()
    assert world.us_events.published == []
    # A retried accept (the same reservation) publishes nothing twice.
    await world.mesh.home.accepted(
        TENANT, CONTACT, "us", agent_id="carol", queue="support", reservation_id="r-1"
    )
    assert len(world.eu_events.of_kind("contact_accepted")) == 1


async def test_an_accept_the_home_region_refuses_still_holds_the_contact(world: Any) -> None:
    async def refuse(request: Any, **_: Any) -> Any:
        raise RpcError(grpc.StatusCode.UNAVAILABLE, "eu is unreachable")

    world.mesh.AcceptHandedOverContact = refuse
    held = await world.workspace.accept(AGENT, world.offer)
    assert held.contact_id == CONTACT
    assert set(await world.desks.desk(TENANT, "carol")) == {CONTACT}
    assert world.routing.answers == [routing_pb2.OFFER_ANSWER_ACCEPT]


async def test_an_accept_names_a_missing_reservation_and_a_region_it_was_not_handed_to(world: Any) -> None:
    with pytest.raises(ValueError, match="reservation_id"):
        await world.mesh.home.accepted(
            TENANT, CONTACT, "us", agent_id="carol", queue="support", reservation_id=""
        )
    with pytest.raises(NotHandedOver):
        await world.mesh.home.accepted(
            TENANT, CONTACT, "ap-southeast", agent_id="eve", queue="support", reservation_id="r-2"
        )
    assert world.eu_events.of_kind("contact_accepted") == []


async def test_a_region_the_contact_was_not_handed_to_is_refused(world: Any) -> None:
    with pytest.raises(NotHandedOver, match="'ap-southeast'"):
        await world.mesh.home.view(TENANT, CONTACT, "ap-southeast", "eve")
    with pytest.raises(NotHandedOver):
        await world.mesh.home.reply(TENANT, CONTACT, "ap-southeast", "eve", "hello", "m-x")
    assert world.identity.crossings == []
    assert world.eu_events.of_kind("message_sent") == []


async def test_a_bad_reply_names_the_field_and_publishes_nothing(world: Any) -> None:
    with pytest.raises(ValueError, match="text"):
        await world.mesh.home.reply(TENANT, CONTACT, "us", "carol", "   ", "m-1")
    with pytest.raises(ValueError, match="message_id"):
        await world.mesh.home.reply(TENANT, CONTACT, "us", "carol", "hello", "")
    assert world.eu_events.of_kind("message_sent") == []


async def test_a_brand_scoped_agent_cannot_take_another_brands_contact(world: Any) -> None:
    bank_agent = Caller(tenant_id=TENANT, role="agent", subject="carol", brands=frozenset({"acme-bank"}))
    with pytest.raises(SocketError) as refused:
        await world.workspace.accept(bank_agent, world.offer)
    assert refused.value.code == "forbidden" and "acme-retail" in refused.value.message
    assert world.routing.answers == []  # refused before routing was told anything


def test_without_a_name_the_agent_sees_the_identifier_masked() -> None:
    created = events_pb2.ContactCreated(channel=common_pb2.CHANNEL_KIND_SMS, customer_id=CUSTOMER)
    getattr(created, "from").CopyFrom(
        common_pb2.Identifier(kind=common_pb2.IDENTIFIER_KIND_PHONE, value=PHONE)
    )
    shown = display_name({}, [_eu_event(created)])
    assert shown == "phone ...0123" and PHONE not in shown
    assert display_name({"name": " Dana "}, [_eu_event(created)]) == "Dana"
    assert display_name({}, []) == "customer"
