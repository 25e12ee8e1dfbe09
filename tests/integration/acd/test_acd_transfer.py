"""TransferContact through RoutingService on the mesh: the agent's slot is freed, the contact
waits in the target queue as a new arrival there and another agent is offered it; refusals name
the field and change nothing stored."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from _platform import Platform
from nats.js.errors import KeyNotFoundError

from ccmesh import naming
from ccmesh.rpc_client import MeshChannel, mesh_stub
from ccmesh.status import RpcError
from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2
from contactcenter.routing.v1 import routing_pb2 as pb
from contactcenter.routing.v1.routing_pb2_grpc import RoutingServiceStub
from routing.adapters.acd_codec import contact_from_bytes, ledger_from_bytes

pytestmark = pytest.mark.timeout(60)
TENANT = "acme"


def as_agent(platform: Platform, agent_id: str) -> Any:
    token = platform.authority.mint(TENANT, "agent", agent_id, 300)
    return mesh_stub(RoutingServiceStub, MeshChannel(platform.nc, "eu", token=token, default_timeout=5.0))


@pytest.fixture
async def routing(platform: Platform) -> AsyncIterator[Platform]:
    await platform.start("routing")
    admin = platform.stub(RoutingServiceStub, role="admin")
    for name, skills in (("support", []), ("billing", ["billing"])):
        await admin.ConfigureQueue(
            pb.ConfigureQueueRequest(
                tenant_id=TENANT, queue=pb.QueueDefinition(name=name, required_skills=skills)
            )
        )
    for agent_id in ("a1", "a2"):
        await admin.UpsertAgent(
            pb.UpsertAgentRequest(
                tenant_id=TENANT,
                agent=pb.AgentDefinition(
                    agent_id=agent_id,
                    skills={"billing": 3},
                    capacity=[pb.ChannelCapacity(channel=common_pb2.CHANNEL_KIND_WEBCHAT, capacity=1)],
                ),
            )
        )
    yield platform


async def stored(platform: Platform, key: str) -> bytes | None:
    kv = await platform.nc.jetstream().key_value(naming.acd_bucket("eu"))
    try:
        value: bytes | None = (await kv.get(key)).value
        return value
    except KeyNotFoundError:
        return None


async def next_event(subscription: Any) -> events_pb2.Event:
    return events_pb2.Event.FromString((await subscription.next_msg(timeout=10)).data)


async def set_available(platform: Platform, agent_id: str) -> None:
    await as_agent(platform, agent_id).SetAgentState(
        pb.SetAgentStateRequest(tenant_id=TENANT, agent_id=agent_id, state=pb.AGENT_STATE_AVAILABLE)
    )


async def accepted_by_a1(platform: Platform, contact_id: str) -> str:
    """Enqueue the contact in support with only a1 available; a1 accepts. The reservation id."""
    js = platform.nc.jetstream()
    offers = await js.subscribe(f"ccevt.eu.acme.contact_offered.{contact_id}", ordered_consumer=True)
    await platform.stub(RoutingServiceStub, role="integration").EnqueueContact(
        pb.EnqueueContactRequest(
            tenant_id=TENANT, contact_id=contact_id, queue="support", channel=common_pb2.CHANNEL_KIND_WEBCHAT
        )
    )
    offered = (await next_event(offers)).contact_offered
    assert offered.agent_id == "a1"
    await as_agent(platform, "a1").AnswerOffer(
        pb.AnswerOfferRequest(
            tenant_id=TENANT,
            agent_id="a1",
            reservation_id=offered.reservation_id,
            answer=pb.OFFER_ANSWER_ACCEPT,
        )
    )
    await offers.unsubscribe()
    return offered.reservation_id


async def test_transfer_frees_the_slot_and_another_agent_gets_the_contact(routing: Platform) -> None:
    js = routing.nc.jetstream()
    await set_available(routing, "a1")
    await accepted_by_a1(routing, "c1")
    transferred = await js.subscribe("ccevt.eu.acme.contact_transferred.c1", ordered_consumer=True)
    queued = await js.subscribe("ccevt.eu.acme.contact_queued.c1", ordered_consumer=True)
    offers = await js.subscribe("ccevt.eu.acme.contact_offered.c1", ordered_consumer=True)
    assert (await next_event(queued)).contact_queued.queue == "support"  # its first arrival
    await next_event(offers)  # the offer a1 accepted
    await set_available(routing, "a2")

    reply = await as_agent(routing, "a1").TransferContact(
        pb.TransferContactRequest(
            tenant_id=TENANT,
            contact_id="c1",
            agent_id="a1",
            queue="billing",
            reason="billing question",
            required_skills=["billing"],
        )
    )
    assert (reply.status, reply.from_queue, reply.queue) == ("waiting", "support", "billing")
    moved = await next_event(transferred)
    assert moved.source == "routing-acd"
    assert (moved.contact_transferred.from_queue, moved.contact_transferred.to_queue) == (
        "support",
        "billing",
    )
    assert moved.contact_transferred.reason == "billing question"
    requeued = (await next_event(queued)).contact_queued
    assert (requeued.queue, list(requeued.required_skills)) == ("billing", ["billing"])

    # a1's slot is free (it holds nothing); a2 is offered the contact in its new queue (a1,
    # who passed it on, would be asked only if nobody else had room).
    ledger = ledger_from_bytes(await stored(routing, "agent.acme.a1") or b"")
    assert ledger.held == ()
    offered = (await next_event(offers)).contact_offered
    assert (offered.agent_id, offered.queue) == ("a2", "billing")


async def test_refused_transfers_name_the_problem_and_change_nothing(routing: Platform) -> None:
    await set_available(routing, "a1")
    await accepted_by_a1(routing, "c1")
    before = {key: await stored(routing, key) for key in ("contact.acme.c1", "agent.acme.a1")}
    a1, a2 = as_agent(routing, "a1"), as_agent(routing, "a2")

    def transfer(**fields: Any) -> pb.TransferContactRequest:
        return pb.TransferContactRequest(
            **{"tenant_id": TENANT, "contact_id": "c1", "agent_id": "a1", "queue": "billing", **fields}
        )

    refusals = [
        (a1, transfer(queue="no-such-queue"), grpc.StatusCode.INVALID_ARGUMENT, "queue"),
        (a1, transfer(queue="support"), grpc.StatusCode.INVALID_ARGUMENT, "already"),
        (a1, transfer(queue=""), grpc.StatusCode.INVALID_ARGUMENT, "queue"),
        (a1, transfer(required_skills=["nope"]), grpc.StatusCode.INVALID_ARGUMENT, "required_skills"),
        (a1, transfer(priority=120), grpc.StatusCode.INVALID_ARGUMENT, "priority"),
        (a1, transfer(contact_id="c-unknown"), grpc.StatusCode.NOT_FOUND, "c-unknown"),
        # a2 does not hold c1: it may ask only for itself, and routing knows it is a1's.
        (a2, transfer(agent_id="a2"), grpc.StatusCode.FAILED_PRECONDITION, "not held by agent 'a2'"),
        (a2, transfer(), grpc.StatusCode.PERMISSION_DENIED, "themselves"),
    ]
    for stub, request, code, words in refusals:
        with pytest.raises(RpcError) as refused:
            await stub.TransferContact(request)
        assert refused.value.code == code, request
        assert words in refused.value.message, (request, refused.value.message)
    after = {key: await stored(routing, key) for key in before}
    assert after == before
    assert contact_from_bytes(after["contact.acme.c1"] or b"").status.value == "assigned"

    # A supervisor may transfer for the agent; a repeat then finds the contact no longer held.
    supervisor = routing.stub(RoutingServiceStub, role="supervisor")
    assert (await supervisor.TransferContact(transfer())).queue == "billing"
    with pytest.raises(RpcError) as again:
        await supervisor.TransferContact(transfer(queue="support"))
    assert again.value.code == grpc.StatusCode.FAILED_PRECONDITION
