"""The ACD through RoutingService on the mesh: the full offer cycle with events and the decision
record, access rules, and bad input answered with INVALID_ARGUMENT naming the field while the
stored state stays as it was."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from _platform import Platform, eventually, platform  # noqa: F401 - the fixture
from nats.js.errors import KeyNotFoundError

from ccmesh import naming
from ccmesh.rpc_client import MeshChannel, mesh_stub
from ccmesh.status import RpcError
from contactcenter.events.v1 import events_pb2
from contactcenter.routing.v1 import routing_pb2 as pb
from contactcenter.routing.v1.routing_pb2_grpc import RoutingServiceStub

pytestmark = pytest.mark.timeout(60)
TENANT = "acme"


def as_agent(platform: Platform, agent_id: str) -> Any:  # noqa: F811
    token = platform.authority.mint(TENANT, "agent", agent_id, 300)
    return mesh_stub(RoutingServiceStub, MeshChannel(platform.nc, "eu", token=token, default_timeout=5.0))


@pytest.fixture
async def routing(platform: Platform) -> AsyncIterator[Platform]:  # noqa: F811
    await platform.start("routing")
    admin = platform.stub(RoutingServiceStub, role="admin")
    await admin.ConfigureQueue(
        pb.ConfigureQueueRequest(
            tenant_id=TENANT,
            queue=pb.QueueDefinition(
                name="billing", required_skills=["billing"], strategy=pb.ROUTING_STRATEGY_MOST_SKILLED
            ),
        )
    )
    supervisor = platform.stub(RoutingServiceStub, role="supervisor")
    await supervisor.UpsertAgent(
        pb.UpsertAgentRequest(
            tenant_id=TENANT,
            agent=pb.AgentDefinition(
                agent_id="a1",
                skills={"billing": 4},
                capacity=[pb.ChannelCapacity(channel=pb.ACD_CHANNEL_CHAT, capacity=2)],
            ),
        )
    )
    yield platform


async def stored(platform: Platform, key: str) -> bytes | None:  # noqa: F811
    kv = await platform.nc.jetstream().key_value(naming.acd_bucket("eu"))
    try:
        value: bytes | None = (await kv.get(key)).value
        return value
    except KeyNotFoundError:
        return None


async def test_offer_accept_complete_with_events_and_explanation(routing: Platform) -> None:
    js = routing.nc.jetstream()
    offered_events = await js.subscribe("ccevt.eu.acme.contact_offered.c1", ordered_consumer=True)
    await as_agent(routing, "a1").SetAgentState(
        pb.SetAgentStateRequest(tenant_id=TENANT, agent_id="a1", state=pb.AGENT_STATE_AVAILABLE)
    )
    integration = routing.stub(RoutingServiceStub, role="integration")
    queued = await integration.EnqueueContact(
        pb.EnqueueContactRequest(
            tenant_id=TENANT,
            contact_id="c1",
            queue="billing",
            channel=pb.ACD_CHANNEL_CHAT,
            required_skills=["billing"],
        )
    )
    assert queued.queue == "billing"
    message = await offered_events.next_msg(timeout=10)
    event = events_pb2.Event.FromString(message.data)
    assert event.contact_offered.agent_id == "a1"
    reservation = event.contact_offered.reservation_id

    explained = await routing.stub(RoutingServiceStub, role="supervisor").ExplainDecision(
        pb.ExplainDecisionRequest(tenant_id=TENANT, contact_id="c1")
    )
    assert (explained.agent_id, explained.rule, explained.queue) == ("a1", "most_skilled", "billing")
    assert [(c.agent_id, c.score) for c in explained.candidates] == [("a1", 4.0)]

    agent = as_agent(routing, "a1")
    accepted = await agent.AnswerOffer(
        pb.AnswerOfferRequest(
            tenant_id=TENANT, agent_id="a1", reservation_id=reservation, answer=pb.OFFER_ANSWER_ACCEPT
        )
    )
    assert (accepted.contact_id, accepted.status) == ("c1", "assigned")
    with pytest.raises(RpcError) as again:
        await agent.AnswerOffer(
            pb.AnswerOfferRequest(
                tenant_id=TENANT, agent_id="a1", reservation_id=reservation, answer=pb.OFFER_ANSWER_ACCEPT
            )
        )
    assert again.value.code == grpc.StatusCode.FAILED_PRECONDITION
    done = await agent.AnswerOffer(
        pb.AnswerOfferRequest(
            tenant_id=TENANT, agent_id="a1", reservation_id=reservation, answer=pb.OFFER_ANSWER_COMPLETE
        )
    )
    assert done.status == "closed"
    accepted_events = await js.subscribe("ccevt.eu.acme.contact_accepted.c1", ordered_consumer=True)
    assert events_pb2.Event.FromString(
        (await accepted_events.next_msg(timeout=5)).data
    ).contact_accepted.agent_id == ("a1")


async def test_agents_act_only_on_themselves_and_tenants_stay_apart(routing: Platform) -> None:
    other_agent = as_agent(routing, "a2")
    with pytest.raises(RpcError) as caught:
        await other_agent.SetAgentState(
            pb.SetAgentStateRequest(tenant_id=TENANT, agent_id="a1", state=pb.AGENT_STATE_AVAILABLE)
        )
    assert caught.value.code == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(RpcError) as caught:
        await routing.stub(RoutingServiceStub, role="agent").ConfigureQueue(
            pb.ConfigureQueueRequest(tenant_id=TENANT, queue=pb.QueueDefinition(name="x"))
        )
    assert caught.value.code == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(RpcError) as caught:
        await routing.stub(RoutingServiceStub, tenant="globex", role="supervisor").ExplainDecision(
            pb.ExplainDecisionRequest(tenant_id=TENANT, contact_id="c1")
        )
    assert caught.value.code == grpc.StatusCode.PERMISSION_DENIED


BAD_ENQUEUE = [
    (pb.EnqueueContactRequest(contact_id="c9", queue="nope", channel=pb.ACD_CHANNEL_CHAT), "queue"),
    (
        pb.EnqueueContactRequest(
            contact_id="c9", queue="billing", channel=pb.ACD_CHANNEL_CHAT, required_skills=["x"]
        ),
        "required_skills",
    ),
    (pb.EnqueueContactRequest(contact_id="c9", queue="billing"), "channel"),
    (
        pb.EnqueueContactRequest(contact_id="c9", queue="billing", channel=pb.ACD_CHANNEL_CHAT, priority=120),
        "priority",
    ),
]


@pytest.mark.parametrize(("request_", "field"), BAD_ENQUEUE)
async def test_bad_enqueue_names_the_field_and_stores_nothing(
    routing: Platform, request_: pb.EnqueueContactRequest, field: str
) -> None:
    request_.tenant_id = TENANT
    with pytest.raises(RpcError) as caught:
        await routing.stub(RoutingServiceStub, role="integration").EnqueueContact(request_)
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.message.startswith(f"{field}:")
    assert await stored(routing, "contact.acme.c9") is None


async def test_negative_capacity_names_the_field_and_keeps_the_agent(routing: Platform) -> None:
    before = await stored(routing, "agent.acme.a1")
    with pytest.raises(RpcError) as caught:
        await routing.stub(RoutingServiceStub, role="admin").UpsertAgent(
            pb.UpsertAgentRequest(
                tenant_id=TENANT,
                agent=pb.AgentDefinition(
                    agent_id="a1", capacity=[pb.ChannelCapacity(channel=pb.ACD_CHANNEL_CHAT, capacity=-1)]
                ),
            )
        )
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "capacity.chat" in caught.value.message
    assert before is not None and await stored(routing, "agent.acme.a1") == before


async def test_malformed_time_zone_names_the_field_and_keeps_the_queue(routing: Platform) -> None:
    before = await stored(routing, "queue.acme.billing")
    with pytest.raises(RpcError) as caught:
        await routing.stub(RoutingServiceStub, role="admin").ConfigureQueue(
            pb.ConfigureQueueRequest(
                tenant_id=TENANT,
                queue=pb.QueueDefinition(name="billing", hours=pb.QueueHours(time_zone="Europe/Atlantis")),
            )
        )
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.message.startswith("time_zone:")
    assert before is not None and await stored(routing, "queue.acme.billing") == before


async def test_closed_queue_applies_its_closed_action(routing: Platform) -> None:
    admin = routing.stub(RoutingServiceStub, role="admin")
    never_open = pb.QueueHours(time_zone="Asia/Tokyo", closed_action="callback")
    await admin.ConfigureQueue(
        pb.ConfigureQueueRequest(tenant_id=TENANT, queue=pb.QueueDefinition(name="night", hours=never_open))
    )
    answer = await routing.stub(RoutingServiceStub, role="integration").EnqueueContact(
        pb.EnqueueContactRequest(
            tenant_id=TENANT, contact_id="c5", queue="night", channel=pb.ACD_CHANNEL_CHAT
        )
    )
    assert answer.status == "closed_callback"
    assert await stored(routing, "contact.acme.c5") is None
