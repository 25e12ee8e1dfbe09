"""`brandSharing: shared` on a tenant shares its agents across its brands, unless a queue narrows
it with `brand_sharing: isolated`; an isolated tenant keeps each brand's agents to itself."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from _platform import Platform, eu_contact_center, eventually, platform  # noqa: F401 - the fixture

from ccmesh.rpc_client import MeshChannel, mesh_stub
from ccmesh.status import RpcError
from contactcenter.common.v1 import common_pb2
from contactcenter.routing.v1 import routing_pb2 as pb
from contactcenter.routing.v1.routing_pb2_grpc import RoutingServiceStub

pytestmark = pytest.mark.timeout(60)
TENANT = "acme"


def as_agent(platform: Platform, agent_id: str) -> Any:  # noqa: F811
    token = platform.authority.mint(TENANT, "agent", agent_id, 300)
    return mesh_stub(RoutingServiceStub, MeshChannel(platform.nc, "eu", token=token, default_timeout=5.0))


async def start(platform: Platform, sharing: str) -> None:  # noqa: F811
    document = eu_contact_center()
    tenants = [
        t.model_copy(update={"brand_sharing": sharing}) if t.id == TENANT else t
        for t in document.spec.tenants
    ]
    await platform.apply(
        document.model_copy(update={"spec": document.spec.model_copy(update={"tenants": tenants})})
    )
    await platform.start("routing")
    admin = platform.stub(RoutingServiceStub, role="admin")
    for name, narrowing in (("retail", ""), ("retail-only", "isolated")):
        await admin.ConfigureQueue(
            pb.ConfigureQueueRequest(
                tenant_id=TENANT,
                queue=pb.QueueDefinition(name=name, brand="acme-retail", brand_sharing=narrowing),
            )
        )
    await platform.stub(RoutingServiceStub, role="supervisor").UpsertAgent(
        pb.UpsertAgentRequest(
            tenant_id=TENANT, agent=pb.AgentDefinition(agent_id="banker", brands=["acme-bank"])
        )
    )
    await as_agent(platform, "banker").SetAgentState(
        pb.SetAgentStateRequest(tenant_id=TENANT, agent_id="banker", state=pb.AGENT_STATE_AVAILABLE)
    )


async def enqueue(platform: Platform, contact_id: str, queue: str) -> None:  # noqa: F811
    await platform.stub(RoutingServiceStub, role="integration").EnqueueContact(
        pb.EnqueueContactRequest(
            tenant_id=TENANT, contact_id=contact_id, queue=queue, channel=common_pb2.CHANNEL_KIND_WEBCHAT
        )
    )


async def offered_to(platform: Platform, contact_id: str) -> str | None:  # noqa: F811
    try:
        explained = await platform.stub(RoutingServiceStub, role="supervisor").ExplainDecision(
            pb.ExplainDecisionRequest(tenant_id=TENANT, contact_id=contact_id)
        )
    except RpcError as error:
        assert error.code == grpc.StatusCode.NOT_FOUND
        return None
    return str(explained.agent_id)


async def test_a_shared_tenant_lets_another_brands_agent_answer_unless_the_queue_narrows_it(
    platform: Platform,  # noqa: F811
) -> None:
    await start(platform, "shared")
    await enqueue(platform, "narrowed", "retail-only")
    await enqueue(platform, "shared", "retail")
    assert await eventually(lambda: offered_to(platform, "shared")) == "banker"
    # The narrowed queue's contact came first in time but no agent of its brand is there.
    assert await offered_to(platform, "narrowed") is None
    listed = await platform.stub(RoutingServiceStub, role="admin").ListQueues(
        pb.ListQueuesRequest(tenant_id=TENANT)
    )
    assert {q.name: q.brand_sharing for q in listed.queues} == {"retail": "", "retail-only": "isolated"}


async def test_an_isolated_tenant_keeps_each_brands_agents_to_it(platform: Platform) -> None:  # noqa: F811
    await start(platform, "isolated")
    await enqueue(platform, "c1", "retail")
    await platform.stub(RoutingServiceStub, role="supervisor").UpsertAgent(
        pb.UpsertAgentRequest(
            tenant_id=TENANT, agent=pb.AgentDefinition(agent_id="seller", brands=["acme-retail"])
        )
    )
    await as_agent(platform, "seller").SetAgentState(
        pb.SetAgentStateRequest(tenant_id=TENANT, agent_id="seller", state=pb.AGENT_STATE_AVAILABLE)
    )
    assert await eventually(lambda: offered_to(platform, "c1")) == "seller"


async def test_an_unknown_queue_setting_is_refused_naming_the_field(platform: Platform) -> None:  # noqa: F811
    await platform.start("routing")
    with pytest.raises(RpcError) as caught:
        await platform.stub(RoutingServiceStub, role="admin").ConfigureQueue(
            pb.ConfigureQueueRequest(
                tenant_id=TENANT,
                queue=pb.QueueDefinition(name="q", brand="acme-retail", brand_sharing="open"),
            )
        )
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.message.startswith("queue.brand_sharing:")
