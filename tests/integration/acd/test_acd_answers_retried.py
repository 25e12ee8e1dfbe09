"""Accept and complete through RoutingService on a real nats-server, each sent twice as a caller
does whose first reply was lost: the repeat gets the same answer, the contact is accepted and
closed once on the stream, and a repeat of a complete whose slot is freed already still
succeeds for the caller naming the contact (and is refused for anyone else)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from _platform import Platform, eventually

from ccmesh.rpc_client import MeshChannel, mesh_stub
from ccmesh.status import RpcError
from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2
from contactcenter.routing.v1 import routing_pb2 as pb
from contactcenter.routing.v1.routing_pb2_grpc import RoutingServiceStub

pytestmark = pytest.mark.timeout(60)
TENANT = "acme"


def as_agent(platform: Platform, agent_id: str) -> Any:
    token = platform.authority.mint(TENANT, "agent", agent_id, 300)
    return mesh_stub(RoutingServiceStub, MeshChannel(platform.nc, "eu", token=token, default_timeout=5.0))


@pytest.fixture
async def routing(platform: Platform) -> AsyncIterator[Platform]:
    await platform.start("routing")
    await platform.stub(RoutingServiceStub, role="admin").ConfigureQueue(
        pb.ConfigureQueueRequest(tenant_id=TENANT, queue=pb.QueueDefinition(name="support"))
    )
    supervisor = platform.stub(RoutingServiceStub, role="supervisor")
    for agent_id in ("a1", "a2"):
        await supervisor.UpsertAgent(
            pb.UpsertAgentRequest(
                tenant_id=TENANT,
                agent=pb.AgentDefinition(
                    agent_id=agent_id,
                    capacity=[pb.ChannelCapacity(channel=common_pb2.CHANNEL_KIND_WEBCHAT, capacity=1)],
                ),
            )
        )
    yield platform


def answer(reservation: str, kind: int, contact_id: str = "", agent_id: str = "a1") -> pb.AnswerOfferRequest:
    return pb.AnswerOfferRequest(
        tenant_id=TENANT,
        agent_id=agent_id,
        reservation_id=reservation,
        answer=kind,  # type: ignore[arg-type]
        contact_id=contact_id,
    )


async def test_repeated_accept_and_complete_get_the_same_answer_and_happen_once(routing: Platform) -> None:
    js = routing.nc.jetstream()
    stories = await js.subscribe("ccevt.eu.acme.*.c1", ordered_consumer=True)
    agent = as_agent(routing, "a1")
    await agent.SetAgentState(
        pb.SetAgentStateRequest(tenant_id=TENANT, agent_id="a1", state=pb.AGENT_STATE_AVAILABLE)
    )
    await routing.stub(RoutingServiceStub, role="integration").EnqueueContact(
        pb.EnqueueContactRequest(
            tenant_id=TENANT, contact_id="c1", queue="support", channel=common_pb2.CHANNEL_KIND_WEBCHAT
        )
    )
    kinds: list[str] = []
    reservation = ""
    while not reservation:
        event = events_pb2.Event.FromString((await stories.next_msg(timeout=10)).data)
        kinds.append(str(event.WhichOneof("payload")))
        reservation = event.contact_offered.reservation_id

    for _ in range(2):
        accepted = await agent.AnswerOffer(answer(reservation, pb.OFFER_ANSWER_ACCEPT, "c1"))
        assert (accepted.contact_id, accepted.status) == ("c1", "assigned")
    # Routing's truth for a reconnecting workspace: the contact the agent holds accepted.
    beat = await agent.AgentHeartbeat(pb.AgentHeartbeatRequest(tenant_id=TENANT, agent_id="a1"))
    assert [(a.contact_id, a.reservation_id) for a in beat.accepted] == [("c1", reservation)]

    for _ in range(2):
        # The second finds the slot freed already: success all the same, for the contact's agent.
        done = await agent.AnswerOffer(answer(reservation, pb.OFFER_ANSWER_COMPLETE, "c1"))
        assert (done.contact_id, done.status) == ("c1", "closed")
    with pytest.raises(RpcError) as unnamed:
        await agent.AnswerOffer(answer(reservation, pb.OFFER_ANSWER_COMPLETE))
    assert unnamed.value.code == grpc.StatusCode.FAILED_PRECONDITION
    with pytest.raises(RpcError) as other:
        await as_agent(routing, "a2").AnswerOffer(answer(reservation, pb.OFFER_ANSWER_COMPLETE, "c1", "a2"))
    assert other.value.code == grpc.StatusCode.FAILED_PRECONDITION
    beat = await agent.AgentHeartbeat(pb.AgentHeartbeatRequest(tenant_id=TENANT, agent_id="a1"))
    assert list(beat.accepted) == []

    async def closed() -> bool:
        while True:
            try:
                event = events_pb2.Event.FromString((await stories.next_msg(timeout=0.5)).data)
            except TimeoutError:
                return "contact_closed" in kinds
            kinds.append(str(event.WhichOneof("payload")))

    await eventually(closed)
    # Announced once each, on the stream: the repeats were dropped by their fixed ids.
    assert kinds.count("contact_accepted") == 1 and kinds.count("contact_closed") == 1, kinds
