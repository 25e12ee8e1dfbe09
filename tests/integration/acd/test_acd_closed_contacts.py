"""Contacts closed outside the ACD leave it: the routing service's durable consumer reads the
region's ContactClosed events (a caller hanging up in the queue) and a waiting contact is never
offered afterwards; an offered one is withdrawn (OfferWithdrawn) and the agent's slot freed."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from _platform import Platform, eventually
from nats.js.errors import KeyNotFoundError

from ccmesh import naming
from ccmesh.events import EventPublisher
from ccmesh.rpc_client import MeshChannel, mesh_stub
from ccmesh.status import RpcError
from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2
from contactcenter.routing.v1 import routing_pb2 as pb
from contactcenter.routing.v1.routing_pb2_grpc import RoutingServiceStub
from routing.adapters.acd_codec import contact_from_bytes, ledger_from_bytes
from routing.domain.contacts import ContactRecord

pytestmark = pytest.mark.timeout(60)
TENANT = "acme"


@pytest.fixture
async def routing(platform: Platform) -> AsyncIterator[Platform]:
    await platform.start("routing")
    admin = platform.stub(RoutingServiceStub, role="admin")
    await admin.ConfigureQueue(
        pb.ConfigureQueueRequest(tenant_id=TENANT, queue=pb.QueueDefinition(name="support"))
    )
    await admin.UpsertAgent(
        pb.UpsertAgentRequest(
            tenant_id=TENANT,
            agent=pb.AgentDefinition(
                agent_id="a1",
                capacity=[pb.ChannelCapacity(channel=common_pb2.CHANNEL_KIND_WEBCHAT, capacity=1)],
            ),
        )
    )
    yield platform


def as_agent(platform: Platform) -> Any:
    token = platform.authority.mint(TENANT, "agent", "a1", 300)
    return mesh_stub(RoutingServiceStub, MeshChannel(platform.nc, "eu", token=token, default_timeout=5.0))


async def record_of(platform: Platform, contact_id: str) -> ContactRecord | None:
    kv = await platform.nc.jetstream().key_value(naming.acd_bucket("eu"))
    try:
        return contact_from_bytes((await kv.get(f"contact.{TENANT}.{contact_id}")).value or b"")
    except KeyNotFoundError:
        return None


async def enqueue(platform: Platform, contact_id: str) -> None:
    await platform.stub(RoutingServiceStub, role="integration").EnqueueContact(
        pb.EnqueueContactRequest(
            tenant_id=TENANT, contact_id=contact_id, queue="support", channel=common_pb2.CHANNEL_KIND_WEBCHAT
        )
    )


async def hang_up(platform: Platform, contact_id: str) -> None:
    """What the gateway's voice status callback publishes when the caller hangs up."""
    await EventPublisher(platform.nc.jetstream(), "eu").publish(
        events_pb2.Event(
            event_id=uuid.uuid4().hex,
            tenant=common_pb2.TenantRef(tenant_id=TENANT),
            region="eu",
            contact_id=contact_id,
            source="gateway",
            schema_version=1,
            contact_closed=events_pb2.ContactClosed(outcome="abandoned", closed_by="customer"),
        )
    )


async def status_becomes(platform: Platform, contact_id: str, status: str) -> ContactRecord:
    async def probe() -> ContactRecord | None:
        record = await record_of(platform, contact_id)
        return record if record is not None and record.status.value == status else None

    found: ContactRecord = await eventually(probe)
    return found


async def test_a_waiting_contact_closed_as_abandoned_is_never_offered(routing: Platform) -> None:
    js = routing.nc.jetstream()
    offers = await js.subscribe("ccevt.eu.acme.contact_offered.*", ordered_consumer=True)
    await enqueue(routing, "c1")  # nobody available: it waits
    await status_becomes(routing, "c1", "waiting")
    await hang_up(routing, "c1")
    await status_becomes(routing, "c1", "closed")
    await hang_up(routing, "c1")  # a second close (another delivery) changes nothing

    # c2 arrives after c1; with c1 still waiting, the one agent would be offered c1 first.
    await enqueue(routing, "c2")
    await as_agent(routing).SetAgentState(
        pb.SetAgentStateRequest(tenant_id=TENANT, agent_id="a1", state=pb.AGENT_STATE_AVAILABLE)
    )
    first = events_pb2.Event.FromString((await offers.next_msg(timeout=10)).data)
    assert (first.contact_id, first.contact_offered.agent_id) == ("c2", "a1")
    closed = await record_of(routing, "c1")
    assert closed is not None and closed.status.value == "closed" and closed.offers == 0
    # A repeated hand-off of the closed contact does not bring it back.
    await enqueue(routing, "c1")
    assert (await status_becomes(routing, "c1", "closed")).offers == 0


async def test_an_offered_contact_that_closes_is_withdrawn_and_frees_the_agent(routing: Platform) -> None:
    js = routing.nc.jetstream()
    offers = await js.subscribe("ccevt.eu.acme.contact_offered.*", ordered_consumer=True)
    withdrawn = await js.subscribe("ccevt.eu.acme.offer_withdrawn.*", ordered_consumer=True)
    agent = as_agent(routing)
    await agent.SetAgentState(
        pb.SetAgentStateRequest(tenant_id=TENANT, agent_id="a1", state=pb.AGENT_STATE_AVAILABLE)
    )
    await enqueue(routing, "c1")
    offered = events_pb2.Event.FromString((await offers.next_msg(timeout=10)).data).contact_offered
    await hang_up(routing, "c1")

    event = events_pb2.Event.FromString((await withdrawn.next_msg(timeout=10)).data)
    assert event.contact_id == "c1" and event.source == "routing-acd"
    assert (event.offer_withdrawn.agent_id, event.offer_withdrawn.reservation_id) == (
        "a1",
        offered.reservation_id,
    )
    assert event.offer_withdrawn.reason == "contact_closed"
    await status_becomes(routing, "c1", "closed")

    # The late accept finds the offer gone; the agent's slot went to the next contact.
    with pytest.raises(RpcError) as late:
        await agent.AnswerOffer(
            pb.AnswerOfferRequest(
                tenant_id=TENANT,
                agent_id="a1",
                reservation_id=offered.reservation_id,
                answer=pb.OFFER_ANSWER_ACCEPT,
            )
        )
    assert late.value.code in (grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.NOT_FOUND)
    await enqueue(routing, "c2")
    second = events_pb2.Event.FromString((await offers.next_msg(timeout=10)).data)
    assert (second.contact_id, second.contact_offered.agent_id) == ("c2", "a1")
    kv = await js.key_value(naming.acd_bucket("eu"))
    ledger = ledger_from_bytes((await kv.get(f"agent.{TENANT}.a1")).value or b"")
    assert [h.contact_id for h in ledger.held] == ["c2"]
