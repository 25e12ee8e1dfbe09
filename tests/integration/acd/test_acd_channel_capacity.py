"""Capacity per channel as configured, through RoutingService on the mesh: an agent with
`sms: 2, whatsapp: 2` holds two SMS and two WhatsApp contacts at once and a fifth waits until a
slot on its channel frees; a capacity group declared on the agent caps the channels' sum."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import grpc
import orjson
import pytest
from _platform import Platform, eventually, platform  # noqa: F401 - the fixture
from nats.js.errors import KeyNotFoundError

from ccmesh import naming
from ccmesh.rpc_client import MeshChannel, mesh_stub
from ccmesh.status import RpcError
from contactcenter.common.v1 import common_pb2
from contactcenter.routing.v1 import routing_pb2 as pb
from contactcenter.routing.v1.routing_pb2_grpc import RoutingServiceStub

pytestmark = pytest.mark.timeout(60)
TENANT = "acme"
SMS, WHATSAPP = common_pb2.CHANNEL_KIND_SMS, common_pb2.CHANNEL_KIND_WHATSAPP
#: Two of each, then a fifth SMS.
CONTACTS = [("s1", SMS), ("w1", WHATSAPP), ("s2", SMS), ("w2", WHATSAPP), ("s3", SMS)]


def as_agent(platform: Platform, agent_id: str) -> Any:  # noqa: F811
    token = platform.authority.mint(TENANT, "agent", agent_id, 300)
    return mesh_stub(RoutingServiceStub, MeshChannel(platform.nc, "eu", token=token, default_timeout=5.0))


@pytest.fixture
async def routing(platform: Platform) -> AsyncIterator[Platform]:  # noqa: F811
    await platform.start("routing")
    admin = platform.stub(RoutingServiceStub, role="admin")
    await admin.ConfigureQueue(
        pb.ConfigureQueueRequest(tenant_id=TENANT, queue=pb.QueueDefinition(name="support"))
    )
    yield platform


async def records(platform: Platform) -> dict[str, dict[str, Any]]:  # noqa: F811
    kv = await platform.nc.jetstream().key_value(naming.acd_bucket("eu"))
    found = {}
    for contact_id, _ in CONTACTS:
        with contextlib.suppress(KeyNotFoundError):
            found[contact_id] = orjson.loads((await kv.get(f"contact.{TENANT}.{contact_id}")).value or b"")
    return found


async def alice_with(platform: Platform, groups: list[pb.CapacityGroup]) -> None:  # noqa: F811
    admin = platform.stub(RoutingServiceStub, role="admin")
    await admin.UpsertAgent(
        pb.UpsertAgentRequest(
            tenant_id=TENANT,
            agent=pb.AgentDefinition(
                agent_id="alice",
                capacity=[
                    pb.ChannelCapacity(channel=SMS, capacity=2),
                    pb.ChannelCapacity(channel=WHATSAPP, capacity=2),
                ],
                capacity_groups=groups,
            ),
        )
    )
    await as_agent(platform, "alice").SetAgentState(
        pb.SetAgentStateRequest(tenant_id=TENANT, agent_id="alice", state=pb.AGENT_STATE_AVAILABLE)
    )
    integration = platform.stub(RoutingServiceStub, role="integration")
    for contact_id, channel in CONTACTS:
        await integration.EnqueueContact(
            pb.EnqueueContactRequest(
                tenant_id=TENANT, contact_id=contact_id, queue="support", channel=channel
            )
        )


async def offered_when(platform: Platform, count: int) -> dict[str, dict[str, Any]]:  # noqa: F811
    async def enough() -> dict[str, dict[str, Any]] | None:
        found = await records(platform)
        offered = [r for r in found.values() if r["status"] == "offered"]
        return found if len(found) == len(CONTACTS) and len(offered) == count else None

    return await eventually(enough)


async def complete(platform: Platform, record: dict[str, Any]) -> None:  # noqa: F811
    agent = as_agent(platform, "alice")
    for answer in (pb.OFFER_ANSWER_ACCEPT, pb.OFFER_ANSWER_COMPLETE):
        await agent.AnswerOffer(
            pb.AnswerOfferRequest(
                tenant_id=TENANT, agent_id="alice", reservation_id=record["reservation_id"], answer=answer
            )
        )


async def test_sms_2_and_whatsapp_2_hold_two_of_each_and_a_fifth_waits(routing: Platform) -> None:
    await alice_with(routing, [])
    found = await offered_when(routing, 4)
    assert {c for c, r in found.items() if r["status"] == "offered"} == {"s1", "s2", "w1", "w2"}
    assert {r["agent_id"] for r in found.values() if r["status"] == "offered"} == {"alice"}
    assert found["s3"]["status"] == "waiting"  # SMS is full; WhatsApp's free room is not SMS's
    supervisor = routing.stub(RoutingServiceStub, role="supervisor")
    stats = await supervisor.GetQueueStats(
        pb.GetQueueStatsRequest(tenant_id=TENANT, queue="support", channel=SMS)
    )
    assert stats.depth == 1

    # A WhatsApp contact ending frees WhatsApp room only: the SMS keeps waiting ...
    await complete(routing, found["w1"])
    await complete(routing, found["s1"])

    # ... an SMS ending lets it through.
    async def fifth_offered() -> dict[str, Any] | None:
        record = (await records(routing))["s3"]
        return record if record["status"] == "offered" else None

    assert (await eventually(fifth_offered))["agent_id"] == "alice"


async def test_a_capacity_group_caps_sms_and_whatsapp_together(routing: Platform) -> None:
    await alice_with(routing, [pb.CapacityGroup(name="messaging", channels=[SMS, WHATSAPP], capacity=3)])
    found = await offered_when(routing, 3)
    waiting = [c for c, r in found.items() if r["status"] == "waiting"]
    assert len(waiting) == 2
    offered = [r for r in found.values() if r["status"] == "offered"]
    await complete(routing, offered[0])
    after = await offered_when(routing, 3)  # one more goes through, and no more
    assert [r["status"] for r in after.values()].count("waiting") == 1


async def test_a_bad_capacity_group_names_the_field(routing: Platform) -> None:
    admin = routing.stub(RoutingServiceStub, role="admin")
    bad = pb.CapacityGroup(name="messaging", channels=[SMS, common_pb2.CHANNEL_KIND_UNSPECIFIED], capacity=2)
    with pytest.raises(RpcError) as caught:
        await admin.UpsertAgent(
            pb.UpsertAgentRequest(
                tenant_id=TENANT, agent=pb.AgentDefinition(agent_id="alice", capacity_groups=[bad])
            )
        )
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "agent.capacity_groups[0].channels[1]" in caught.value.message
