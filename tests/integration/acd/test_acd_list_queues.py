"""ListQueues on the mesh: a tenant's queues with their configuration, sorted, and its agents
counted by state, for supervisors and admins only, never another tenant's."""

from __future__ import annotations

import grpc
import pytest
from _platform import Platform, eventually

from ccmesh.status import RpcError
from contactcenter.routing.v1 import routing_pb2 as pb
from contactcenter.routing.v1.routing_pb2_grpc import RoutingServiceStub

pytestmark = pytest.mark.timeout(60)


async def test_queues_are_listed_with_their_configuration_and_agents_by_state(
    platform: Platform,
) -> None:
    await platform.start("routing")
    admin = platform.stub(RoutingServiceStub, role="admin")
    await admin.ConfigureQueue(
        pb.ConfigureQueueRequest(
            tenant_id="acme",
            queue=pb.QueueDefinition(
                name="support",
                brand="acme-retail",
                required_skills=["billing"],
                strategy=pb.ROUTING_STRATEGY_MOST_SKILLED,
                service_level=pb.ServiceLevelTarget(answered_fraction=0.9, within_seconds=30),
            ),
        )
    )
    await admin.ConfigureQueue(
        pb.ConfigureQueueRequest(tenant_id="acme", queue=pb.QueueDefinition(name="billing"))
    )
    await platform.stub(RoutingServiceStub, tenant="globex", role="admin").ConfigureQueue(
        pb.ConfigureQueueRequest(tenant_id="globex", queue=pb.QueueDefinition(name="theirs"))
    )
    for agent_id in ("a1", "a2", "a3"):
        await admin.UpsertAgent(
            pb.UpsertAgentRequest(tenant_id="acme", agent=pb.AgentDefinition(agent_id=agent_id))
        )
    await admin.SetAgentState(
        pb.SetAgentStateRequest(tenant_id="acme", agent_id="a1", state=pb.AGENT_STATE_AVAILABLE)
    )
    await admin.SetAgentState(
        pb.SetAgentStateRequest(tenant_id="acme", agent_id="a2", state=pb.AGENT_STATE_BREAK)
    )

    supervisor = platform.stub(RoutingServiceStub, role="supervisor")

    async def listed() -> pb.ListQueuesResponse | None:
        reply: pb.ListQueuesResponse = await supervisor.ListQueues(pb.ListQueuesRequest(tenant_id="acme"))
        counted = reply.agents_by_state
        ready = counted["available"] == 1 and counted["break"] == 1 and len(reply.queues) == 2
        return reply if ready else None

    reply = await eventually(listed)  # the routing mirror follows its bucket: written, then seen
    assert [q.name for q in reply.queues] == ["billing", "support"]
    support = reply.queues[1]
    assert (support.brand, list(support.required_skills), support.strategy) == (
        "acme-retail",
        ["billing"],
        pb.ROUTING_STRATEGY_MOST_SKILLED,
    )
    assert (support.service_level.answered_fraction, support.service_level.within_seconds) == (0.9, 30)
    assert dict(reply.agents_by_state) == {
        "available": 1,
        "break": 1,
        "offline": 1,
        "busy": 0,
        "after_contact_work": 0,
    }

    for tenant, role in (("acme", "agent"), ("acme", "integration"), ("globex", "supervisor")):
        with pytest.raises(RpcError) as refused:
            await platform.stub(RoutingServiceStub, tenant=tenant, role=role).ListQueues(
                pb.ListQueuesRequest(tenant_id="acme")
            )
        assert refused.value.code == grpc.StatusCode.PERMISSION_DENIED
