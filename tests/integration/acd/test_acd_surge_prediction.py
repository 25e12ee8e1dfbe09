"""Prediction under surge over the mesh: a queue with more contacts than its one agent can take
reports the wait a new arrival can expect and how many more agents reach the target
(GetQueueStats), and every queue's depth for the gateway's back-pressure (GetQueueDepths),
which a brand-scoped supervisor sees only for the brands they may see."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from _platform import Platform, eventually, platform  # noqa: F401 - the fixture

from ccmesh.rpc_client import MeshChannel, mesh_stub
from contactcenter.common.v1 import common_pb2
from contactcenter.routing.v1 import routing_pb2 as pb
from contactcenter.routing.v1.routing_pb2_grpc import RoutingServiceStub

pytestmark = pytest.mark.timeout(60)
TENANT = "acme"
WEBCHAT = common_pb2.CHANNEL_KIND_WEBCHAT


@pytest.fixture
async def surge(platform: Platform) -> AsyncIterator[Platform]:  # noqa: F811
    """Billing (acme-retail) with one agent who takes one chat, and five chats arriving."""
    await platform.start("routing")
    admin = platform.stub(RoutingServiceStub, role="admin")
    await admin.ConfigureQueue(
        pb.ConfigureQueueRequest(
            tenant_id=TENANT, queue=pb.QueueDefinition(name="billing", brand="acme-retail")
        )
    )
    await admin.UpsertAgent(
        pb.UpsertAgentRequest(
            tenant_id=TENANT,
            agent=pb.AgentDefinition(
                agent_id="able",
                brands=["acme-retail"],
                capacity=[pb.ChannelCapacity(channel=WEBCHAT, capacity=1)],
            ),
        )
    )
    token = platform.authority.mint(TENANT, "agent", "able", 300)
    agent = mesh_stub(RoutingServiceStub, MeshChannel(platform.nc, "eu", token=token, default_timeout=5.0))
    await agent.SetAgentState(
        pb.SetAgentStateRequest(tenant_id=TENANT, agent_id="able", state=pb.AGENT_STATE_AVAILABLE)
    )
    integration = platform.stub(RoutingServiceStub, role="integration")
    for n in range(5):
        await integration.EnqueueContact(
            pb.EnqueueContactRequest(tenant_id=TENANT, contact_id=f"c{n}", queue="billing", channel=WEBCHAT)
        )
    yield platform


async def depths(platform: Platform, **claims: Any) -> Any:  # noqa: F811
    token = platform.authority.mint(TENANT, "supervisor", "sup", 300, **claims)
    stub = mesh_stub(RoutingServiceStub, MeshChannel(platform.nc, "eu", token=token, default_timeout=5.0))
    return await stub.GetQueueDepths(pb.GetQueueDepthsRequest(tenant_id=TENANT))


async def test_a_queue_beyond_its_agents_reports_the_next_wait_and_the_agents_it_needs(
    surge: Platform,
) -> None:
    async def four_waiting() -> Any:
        reply = await depths(surge)
        return reply if reply.waiting == 4 else None  # one is offered to the agent

    reply = await eventually(four_waiting)
    (billing,) = reply.queues
    assert (billing.queue, billing.waiting) == ("billing", 4)
    assert billing.estimated_wait_seconds > 0 and billing.longest_wait_seconds >= 0

    stats = await surge.stub(RoutingServiceStub, role="supervisor").GetQueueStats(
        pb.GetQueueStatsRequest(tenant_id=TENANT, queue="billing")
    )
    assert stats.staffed_agents == 1 and stats.depth == 4
    assert stats.estimated_wait_next_arrival_seconds == pytest.approx(
        billing.estimated_wait_seconds, rel=0.05
    )
    assert stats.staffing_reachable and stats.agents_for_target > 1
    assert 0.0 < stats.next_arrival_service_level < stats.abandonment_aware_service_level
    assert stats.additional_agents_needed == stats.agents_for_target - 1


async def test_a_brand_scoped_supervisor_sees_only_their_brands_queues(surge: Platform) -> None:
    assert [q.queue for q in (await depths(surge, brands=["acme-retail"])).queues] == ["billing"]
    other = await depths(surge, brands=["acme-bank"])
    assert (list(other.queues), other.waiting) == ([], 0)
