"""`Workspace` over fakes: log in, accept an offer, reply on a held contact (once per request
id), and the refusals an agent gets for contacts it does not hold or another brand's."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import grpc
import pytest
from fakes.gateway_fakes import REGION, FakeContacts, FakeEvents, FakeHistory, FakeWorkspaceStore

from ccmesh.auth import Caller
from ccmesh.envelope import new_event
from ccmesh.status import RpcError
from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2
from contactcenter.identity.v1 import identity_pb2
from contactcenter.routing.v1 import routing_pb2
from gateway.adapters.workspace_store import HeldContact
from gateway.domain.socket_protocol import SocketError
from gateway.domain.workspace_state import Offer
from gateway.service_layer.workspace import Workspace

AGENT = Caller(tenant_id="acme", role="agent", subject="agent-1")
SMS = common_pb2.CHANNEL_KIND_SMS


class FakeRouting:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.gone: set[str] = set()
        #: What routing says the agent holds accepted.
        self.accepted: list[routing_pb2.AcceptedReservation] = []

    async def UpsertAgent(self, request: Any, **_: Any) -> Any:
        self.calls.append(("UpsertAgent", request))
        return SimpleNamespace(state=routing_pb2.AGENT_STATE_AVAILABLE, accepted=self.accepted)

    async def AgentHeartbeat(self, request: Any, **_: Any) -> Any:
        return SimpleNamespace(state=routing_pb2.AGENT_STATE_AVAILABLE, accepted=self.accepted)

    async def SetAgentState(self, request: Any, **_: Any) -> Any:
        return SimpleNamespace(state=request.state, requeued=0)

    async def AnswerOffer(self, request: Any, **_: Any) -> Any:
        self.calls.append(("AnswerOffer", request))
        if request.reservation_id in self.gone:
            raise RpcError(grpc.StatusCode.FAILED_PRECONDITION, "reservation expired")
        return SimpleNamespace()

    async def TransferContact(self, request: Any, **_: Any) -> Any:
        self.calls.append(("TransferContact", request))
        return SimpleNamespace(queue=request.to_queue)


class FakeIdentity:
    async def GetAgent(self, request: Any, **_: Any) -> Any:
        if request.agent_id != "agent-1":
            raise RpcError(grpc.StatusCode.NOT_FOUND, "no such agent")
        return SimpleNamespace(
            agent=identity_pb2.Agent(agent_id="agent-1", display_name="Ada", languages=["en"])
        )

    async def GetTimeline(self, request: Any, **_: Any) -> Any:
        return SimpleNamespace(entries=[])


class CountingHistory(FakeHistory):
    """The fake stream's histories, counting the reads."""

    def __init__(self, events: FakeEvents) -> None:
        super().__init__(events)
        self.reads = 0

    async def of_contact(self, tenant_id: str, contact_id: str) -> list[events_pb2.Event]:
        self.reads += 1
        return await super().of_contact(tenant_id, contact_id)


class World:
    def __init__(self) -> None:
        self.events, self.desks, self.routing = FakeEvents(), FakeWorkspaceStore(), FakeRouting()
        self.history = CountingHistory(self.events)
        self.workspace = Workspace(
            region=REGION,
            history=self.history,
            events=self.events,
            routing=self.routing,
            identity=FakeIdentity(),
            ai=None,  # type: ignore[arg-type]
            store=self.desks,
            contacts=FakeContacts(),
        )

    async def waiting_contact(self, contact_id: str = "c1", brand: str = "acme-retail") -> None:
        for payload, event_id in (
            (events_pb2.ContactCreated(channel=SMS, customer_id="cust-1"), f"{contact_id}.created"),
            (events_pb2.MessageReceived(message_id="m0", channel=SMS, text="my parcel is late"), "m0"),
        ):
            await self.events.publish(
                new_event(
                    payload,
                    tenant_id="acme",
                    brand_id=brand,
                    region=REGION,
                    source="gateway",
                    contact_id=contact_id,
                    event_id=event_id,
                )
            )


async def test_login_brings_routing_up_to_the_profile_and_returns_the_contacts_still_held() -> None:
    world = World()
    held = HeldContact("c9", "r9", "support", SMS, "cust-9")
    await world.desks.hold("acme", "agent-1", held)
    login = await world.workspace.login(AGENT)
    assert (login.display_name, login.state, login.takes_contacts) == ("Ada", "available", True)
    assert login.contacts == [held]
    ((name, upsert),) = world.routing.calls
    assert name == "UpsertAgent" and upsert.agent.agent_id == "agent-1"


async def test_accepting_an_offer_holds_the_contact_with_what_its_events_say() -> None:
    world = World()
    await world.waiting_contact()
    held = await world.workspace.accept(AGENT, Offer("r1", "c1", "support"))
    assert (held.contact_id, held.channel, held.customer_id, held.brand_id) == (
        "c1",
        SMS,
        "cust-1",
        "acme-retail",
    )
    assert await world.workspace.held(AGENT, "c1") == held


async def test_a_gone_offer_is_a_conflict_and_nothing_is_held() -> None:
    world = World()
    await world.waiting_contact()
    world.routing.gone.add("r1")
    with pytest.raises(SocketError) as refused:
        await world.workspace.accept(AGENT, Offer("r1", "c1", "support"))
    assert refused.value.code == "conflict"
    assert world.desks.desks == {}


async def test_a_reply_on_a_held_contact_is_published_once_per_request_id() -> None:
    world = World()
    await world.waiting_contact()
    await world.workspace.accept(AGENT, Offer("r1", "c1", "support"))
    first = await world.workspace.send(AGENT, "c1", "It ships today", "req-1")
    again = await world.workspace.send(AGENT, "c1", "It ships today", "req-1")  # re-sent after reconnect
    assert first == again
    (sent,) = world.events.of_kind("message_sent")
    assert (sent.message_sent.text, sent.message_sent.sender, sent.message_sent.channel) == (
        "It ships today",
        "agent:agent-1",
        SMS,
    )


async def test_an_agent_cannot_act_on_a_contact_it_does_not_hold_or_of_another_brand() -> None:
    world = World()
    with pytest.raises(SocketError) as refused:
        await world.workspace.send(AGENT, "c1", "hello", "req-1")
    assert refused.value.code == "forbidden"
    await world.waiting_contact("c2", brand="acme-bank")
    retail_only = Caller(tenant_id="acme", role="agent", subject="agent-1", brands=frozenset({"acme-retail"}))
    with pytest.raises(SocketError) as other_brand:
        await world.workspace.accept(retail_only, Offer("r2", "c2", "support"))
    assert other_brand.value.code == "forbidden"
    assert world.events.of_kind("message_sent") == []


async def test_an_accept_after_its_offer_view_holds_what_the_view_read_without_reading_again() -> None:
    shown, unseen = World(), World()
    for world in (shown, unseen):
        await world.waiting_contact()
    await shown.workspace.offer_view(AGENT, Offer("r1", "c1", "support"))
    held = await shown.workspace.accept(AGENT, Offer("r1", "c1", "support"))
    assert shown.history.reads == 1
    # The same contact as an accept that reads the events itself.
    assert held == await unseen.workspace.accept(AGENT, Offer("r1", "c1", "support"))


async def test_an_accept_reads_the_contact_when_its_offer_view_could_not_settle_its_facts() -> None:
    world = World()
    await world.waiting_contact(brand="")  # a later event may still name the brand
    await world.workspace.offer_view(AGENT, Offer("r1", "c1", "support"))
    await world.workspace.accept(AGENT, Offer("r1", "c1", "support"))
    assert world.history.reads == 2
    # An offer whose view this process did not make (another reservation) is read too.
    await world.workspace.accept(AGENT, Offer("r2", "c1", "support"))
    assert world.history.reads == 3
