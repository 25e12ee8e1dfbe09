"""A `predictedServiceLevelUnder` rule of the region's ContactCenter, run by the routing service.

The rule compares the prediction a supervisor reads in `GetQueueStats`: with nobody who can take
the queue's contacts (an available agent without its skill is no staff), the predicted level is
0 and the waiting contact overflows; with an agent who can, the level holds and the contact is
offered in its own queue.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from _platform import Platform, eu_contact_center, eventually, platform  # noqa: F401 - the fixture

from ccmesh import naming
from ccmesh.configplane.models import ContactCenter
from ccmesh.rpc_client import MeshChannel, mesh_stub
from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2
from contactcenter.routing.v1 import routing_pb2 as pb
from contactcenter.routing.v1.routing_pb2_grpc import RoutingServiceStub

pytestmark = pytest.mark.timeout(60)
TENANT = "acme"
WEBCHAT = common_pb2.CHANNEL_KIND_WEBCHAT
THRESHOLD = 0.5


def with_prediction_rule(document: ContactCenter) -> ContactCenter:
    spec = document.spec.model_dump(by_alias=True, exclude_none=True)
    spec.setdefault("routing", {})["overflow"] = [
        {
            "name": "billing-sla",
            "tenant": TENANT,
            "queue": "billing",
            "targetQueue": "general",
            "predictedServiceLevelUnder": THRESHOLD,
        }
    ]
    return ContactCenter.model_validate(
        {**document.model_dump(by_alias=True, exclude_none=True), "spec": spec}
    )


async def prepare(platform: Platform, agent_skills: dict[str, int]) -> None:  # noqa: F811
    await platform.apply(with_prediction_rule(eu_contact_center()))
    await platform.start("routing")
    admin = platform.stub(RoutingServiceStub, role="admin")
    for name, skills in (("billing", ["billing"]), ("general", [])):
        await admin.ConfigureQueue(
            pb.ConfigureQueueRequest(
                tenant_id=TENANT,
                queue=pb.QueueDefinition(name=name, brand="acme-retail", required_skills=skills),
            )
        )
    await platform.stub(RoutingServiceStub, role="supervisor").UpsertAgent(
        pb.UpsertAgentRequest(
            tenant_id=TENANT,
            agent=pb.AgentDefinition(
                agent_id="ann",
                skills=agent_skills,
                brands=["acme-retail"],
                capacity=[pb.ChannelCapacity(channel=WEBCHAT, capacity=1)],
            ),
        )
    )
    token = platform.authority.mint(TENANT, "agent", "ann", 300)
    agent = mesh_stub(RoutingServiceStub, MeshChannel(platform.nc, "eu", token=token, default_timeout=5.0))
    await agent.SetAgentState(
        pb.SetAgentStateRequest(tenant_id=TENANT, agent_id="ann", state=pb.AGENT_STATE_AVAILABLE)
    )


async def enqueue_and_follow(platform: Platform) -> AsyncIterator[events_pb2.Event]:  # noqa: F811
    """Enqueue c1 in billing; yields the contact's routing events as they are published."""
    js = platform.nc.jetstream()
    events = await js.subscribe(naming.event_subject("eu", TENANT, "*", "c1"), ordered_consumer=True)
    await platform.stub(RoutingServiceStub, role="integration").EnqueueContact(
        pb.EnqueueContactRequest(tenant_id=TENANT, contact_id="c1", queue="billing", channel=WEBCHAT)
    )
    while True:
        yield events_pb2.Event.FromString((await events.next_msg(timeout=10)).data)


async def queue_stats(platform: Platform, queue: str) -> Any:  # noqa: F811
    return await platform.stub(RoutingServiceStub, role="supervisor").GetQueueStats(
        pb.GetQueueStatsRequest(tenant_id=TENANT, queue=queue)
    )


async def test_under_the_predicted_level_the_contact_overflows(platform: Platform) -> None:  # noqa: F811
    await prepare(platform, {"sales": 5})
    seen: list[events_pb2.Event] = []
    async for event in enqueue_and_follow(platform):
        seen.append(event)
        if event.WhichOneof("payload") == "contact_offered":
            break
    kinds = [e.WhichOneof("payload") for e in seen]
    assert kinds == ["contact_queued", "contact_transferred", "contact_offered"]
    moved = seen[1].contact_transferred
    assert (moved.from_queue, moved.to_queue) == ("billing", "general")
    assert moved.reason == f"billing-sla: predicted service level 0.00 < {THRESHOLD:g}"
    # Served where it overflowed to, by the agent billing could not count as staff.
    assert seen[2].contact_offered.queue == "general"
    # The supervisor sees why: nobody counts as billing's staff. (Its level is back up now: the
    # contact left, and with nothing arriving there nothing waits.)
    billing = await queue_stats(platform, "billing")
    assert (billing.staffed_agents, billing.depth) == (0, 0)


async def test_at_or_above_the_predicted_level_the_contact_is_served_in_its_queue(
    platform: Platform,  # noqa: F811
) -> None:
    await prepare(platform, {"billing": 3})
    seen: list[events_pb2.Event] = []
    async for event in enqueue_and_follow(platform):
        seen.append(event)
        if event.WhichOneof("payload") == "contact_offered":
            break
    assert [e.WhichOneof("payload") for e in seen] == ["contact_queued", "contact_offered"]
    assert seen[1].contact_offered.queue == "billing"
    billing = await queue_stats(platform, "billing")
    assert billing.staffed_agents == 1 and billing.predicted_service_level >= THRESHOLD
