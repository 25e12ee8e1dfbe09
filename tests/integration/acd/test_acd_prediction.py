"""GetQueueStats gives a prediction a supervisor can trust: handle time measured from finished
contacts, staffed agents only if they can take the queue's contacts, arrivals over a sliding
15-minute window, contacts that gave up counted as such, Erlang C and Erlang A side by side."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from _platform import Platform, eventually, platform  # noqa: F401 - the fixture

from ccmesh import naming
from ccmesh.rpc_client import MeshChannel, mesh_stub
from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2
from contactcenter.routing.v1 import routing_pb2 as pb
from contactcenter.routing.v1.routing_pb2_grpc import RoutingServiceStub
from routing.domain.handle_time import ALPHA, DEFAULT_ANY_CHANNEL_SECONDS

pytestmark = pytest.mark.timeout(60)
TENANT = "acme"
WEBCHAT = common_pb2.CHANNEL_KIND_WEBCHAT


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
            queue=pb.QueueDefinition(name="billing", brand="acme-retail", required_skills=["billing"]),
        )
    )
    supervisor = platform.stub(RoutingServiceStub, role="supervisor")
    for agent_id, skills, brands in (
        ("able", {"billing": 3}, ["acme-retail"]),
        ("no-skill", {"sales": 5}, ["acme-retail"]),
        ("other-brand", {"billing": 5}, ["acme-bank"]),
    ):
        await supervisor.UpsertAgent(
            pb.UpsertAgentRequest(
                tenant_id=TENANT,
                agent=pb.AgentDefinition(
                    agent_id=agent_id,
                    skills=skills,
                    brands=brands,
                    capacity=[pb.ChannelCapacity(channel=WEBCHAT, capacity=1)],
                ),
            )
        )
        await as_agent(platform, agent_id).SetAgentState(
            pb.SetAgentStateRequest(tenant_id=TENANT, agent_id=agent_id, state=pb.AGENT_STATE_AVAILABLE)
        )
    yield platform


async def stats(platform: Platform) -> Any:  # noqa: F811
    return await platform.stub(RoutingServiceStub, role="supervisor").GetQueueStats(
        pb.GetQueueStatsRequest(tenant_id=TENANT, queue="billing")
    )


async def test_staffed_counts_only_agents_who_can_take_the_queues_contacts(routing: Platform) -> None:
    before = await stats(routing)
    assert before.staffed_agents == 1  # not the one without the skill, not the other brand's
    assert (before.handle_time_samples, before.average_handle_seconds) == (0, DEFAULT_ANY_CHANNEL_SECONDS)
    assert before.arrival_window_seconds == 900
    assert (before.arrivals_per_hour, before.overloaded) == (0.0, False)
    assert before.abandonment_aware_service_level == 1.0


async def test_handle_time_is_measured_and_contacts_that_gave_up_are_counted(routing: Platform) -> None:
    js = routing.nc.jetstream()
    offered = await js.subscribe(
        naming.event_subject("eu", TENANT, "contact_offered", "c1"), ordered_consumer=True
    )
    integration = routing.stub(RoutingServiceStub, role="integration")
    await integration.EnqueueContact(
        pb.EnqueueContactRequest(tenant_id=TENANT, contact_id="c1", queue="billing", channel=WEBCHAT)
    )
    offer = events_pb2.Event.FromString((await offered.next_msg(timeout=10)).data).contact_offered
    agent = as_agent(routing, "able")
    for answer in (pb.OFFER_ANSWER_ACCEPT, pb.OFFER_ANSWER_COMPLETE):
        await agent.AnswerOffer(
            pb.AnswerOfferRequest(
                tenant_id=TENANT, agent_id="able", reservation_id=offer.reservation_id, answer=answer
            )
        )

    async def measured() -> Any:
        report = await stats(routing)
        return report if report.handle_time_samples == 1 else None

    report = await eventually(measured)
    # One short contact pulls the default down by ALPHA of the difference.
    assert report.average_handle_seconds < DEFAULT_ANY_CHANNEL_SECONDS * (1 - ALPHA) + 5
    assert report.arrivals_per_hour == pytest.approx(4.0)  # one arrival in 15 minutes

    # A second contact nobody can take (the queue now needs a skill no agent has), and the
    # customer leaves before an answer.
    await routing.stub(RoutingServiceStub, role="admin").ConfigureQueue(
        pb.ConfigureQueueRequest(
            tenant_id=TENANT,
            queue=pb.QueueDefinition(name="billing", brand="acme-retail", required_skills=["billing", "vip"]),
        )
    )
    await integration.EnqueueContact(
        pb.EnqueueContactRequest(tenant_id=TENANT, contact_id="c2", queue="billing", channel=WEBCHAT)
    )
    await js.publish(
        naming.event_subject("eu", TENANT, "contact_closed", "c2"),
        events_pb2.Event(
            event_id="hung-up-c2",
            tenant=common_pb2.TenantRef(tenant_id=TENANT),
            region="eu",
            contact_id="c2",
            source="gateway",
            schema_version=1,
            contact_closed=events_pb2.ContactClosed(outcome="abandoned"),
        ).SerializeToString(),
    )

    async def gave_up() -> Any:
        report = await stats(routing)
        return report if report.abandoned_in_window == 1 else None

    report = await eventually(gave_up)
    assert report.arrivals_per_hour == pytest.approx(8.0)
    assert report.staffed_agents == 0  # nobody has "vip"
    assert report.average_patience_seconds > 0
    assert report.predicted_service_level == 0.0 and report.overloaded
