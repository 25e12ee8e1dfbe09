"""An agent's state changes in routing land on the region's stream as AgentStateChanged events,
once each and with why, and the analytics store of the integration service turns them into the
agent's staffed time and occupancy in a report by agent."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from _platform import Platform, eventually

from ccmesh import naming, stream_read
from ccmesh.rpc_client import MeshChannel, mesh_stub
from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2
from contactcenter.integration.v1 import integration_pb2
from contactcenter.integration.v1.integration_pb2_grpc import IntegrationServiceStub
from contactcenter.routing.v1 import routing_pb2 as pb
from contactcenter.routing.v1.routing_pb2_grpc import RoutingServiceStub

pytestmark = pytest.mark.timeout(60)
TENANT = "acme"


def as_agent(platform: Platform, agent_id: str) -> Any:
    token = platform.authority.mint(TENANT, "agent", agent_id, 300)
    return mesh_stub(RoutingServiceStub, MeshChannel(platform.nc, "eu", token=token, default_timeout=5.0))


@pytest.fixture
async def services(platform: Platform, tmp_path: Path) -> AsyncIterator[Platform]:
    await platform.start("routing", "integration", settings={"integration": {"analytics_dir": str(tmp_path)}})
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


async def state_events(platform: Platform) -> list[events_pb2.Event]:
    subject = naming.event_subject("eu", TENANT, "agent_state_changed", "*")
    return [
        events_pb2.Event.FromString(message.data)
        async for message in stream_read.stored(
            platform.nc.jetstream(), subject, stream=naming.events_stream("eu").name
        )
    ]


async def test_state_changes_are_told_once_each_and_reach_the_report(services: Platform) -> None:
    agent = as_agent(services, "a1")
    offers = await services.nc.jetstream().subscribe(
        "ccevt.eu.acme.contact_offered.c1", ordered_consumer=True
    )
    await agent.SetAgentState(
        pb.SetAgentStateRequest(tenant_id=TENANT, agent_id="a1", state=pb.AGENT_STATE_AVAILABLE)
    )
    integration = services.stub(RoutingServiceStub, role="integration")
    await integration.EnqueueContact(
        pb.EnqueueContactRequest(
            tenant_id=TENANT, contact_id="c1", queue="support", channel=common_pb2.CHANNEL_KIND_WEBCHAT
        )
    )
    offered = events_pb2.Event.FromString((await offers.next_msg(timeout=10)).data)
    reservation = offered.contact_offered.reservation_id
    for answer in (pb.OFFER_ANSWER_ACCEPT, pb.OFFER_ANSWER_COMPLETE):
        await agent.AnswerOffer(
            pb.AnswerOfferRequest(
                tenant_id=TENANT, agent_id="a1", reservation_id=reservation, answer=answer, contact_id="c1"
            )
        )
    await agent.SetAgentState(
        pb.SetAgentStateRequest(tenant_id=TENANT, agent_id="a1", state=pb.AGENT_STATE_OFFLINE)
    )

    expected = [
        ("offline", "available", "set_by_agent"),
        ("available", "busy", "contact_accepted"),
        ("busy", "available", "work_done"),
        ("available", "offline", "set_by_agent"),
    ]

    async def told() -> list[events_pb2.Event] | None:
        found = await state_events(services)
        return found if len(found) >= len(expected) else None

    found = await eventually(told)
    changes = [
        (e.agent_state_changed.previous_state, e.agent_state_changed.state, e.agent_state_changed.reason)
        for e in found
    ]
    assert changes == expected  # once each: the outbox's sweep sent nothing twice
    assert {e.agent_state_changed.agent_id for e in found} == {"a1"}
    assert all(e.tenant.tenant_id == TENANT and e.source == "routing-acd" for e in found)
    assert len({e.event_id for e in found}) == len(found)
    times = [e.occurred_at.ToDatetime(tzinfo=UTC) for e in found]
    assert times == sorted(times)
    staffed = (times[-1] - times[0]).total_seconds()

    reports = services.stub(IntegrationServiceStub, role="supervisor")
    today = times[0].date()
    request = integration_pb2.GetReportRequest(
        tenant_id=TENANT,
        start=today.isoformat(),
        end=(today + timedelta(days=2)).isoformat(),
        interval="day",
        group_by="agent",
    )

    async def reported() -> integration_pb2.ReportRow | None:
        rows = [row for row in (await reports.GetReport(request)).rows if row.group == "a1"]
        staffed_rows = [row for row in rows if row.HasField("staffed_seconds")]
        # Stored once the offline event closed the last stay (it may cross midnight: two rows).
        total = sum(row.staffed_seconds for row in staffed_rows)
        return staffed_rows[0] if staffed_rows and abs(total - staffed) < 1e-3 else None

    row = await eventually(reported)
    assert row.HasField("occupancy") and 0.0 < row.occupancy < 1.0
    assert datetime.fromisoformat(row.start).tzinfo is not None
