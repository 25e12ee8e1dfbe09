"""A journey run end to end in routing lands on the region's stream as one JourneyEnded (its
nodes in order, how it ended), and the integration service's analytics store shows it in the
journey report: outcomes, the most frequent paths and where the journeys ended."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
from _platform import Platform, eventually

from ccmesh import naming, stream_read
from ccmesh.status import RpcError
from contactcenter.events.v1 import events_pb2
from contactcenter.integration.v1 import integration_pb2
from contactcenter.integration.v1.integration_pb2_grpc import IntegrationServiceStub
from contactcenter.routing.v1 import routing_pb2
from contactcenter.routing.v1.routing_pb2_grpc import RoutingServiceStub

pytestmark = pytest.mark.timeout(60)
TENANT = "acme"

CATALOG = """\
apiVersion: contactcenter.dev/v1alpha1
kind: FlowCatalog
metadata: {name: triage}
spec:
  queues: [support]
  prompts: [hello]
  flows: [triage]
"""

FLOW = """\
apiVersion: contactcenter.dev/v1alpha1
kind: Flow
metadata: {name: triage}
spec:
  start: greet
  nodes:
    - {id: greet, kind: message, prompt: hello, next: ask}
    - {id: ask, kind: collect, prompt: hello, store: choice, next: route, onFailure: gave-up}
    - id: route
      kind: condition
      branches:
        - {when: 'input == "1"', next: to-support}
      default: done
    - {id: to-support, kind: queue, queue: support}
    - {id: done, kind: end, outcome: completed}
    - {id: gave-up, kind: end, outcome: abandoned}
"""


async def ended_events(platform: Platform) -> list[events_pb2.Event]:
    subject = naming.event_subject("eu", TENANT, "journey_ended", "*")
    return [
        events_pb2.Event.FromString(message.data)
        async for message in stream_read.stored(
            platform.nc.jetstream(), subject, stream=naming.events_stream("eu").name
        )
    ]


async def test_a_journey_run_end_to_end_lands_once_and_shows_in_the_journey_report(
    platform: Platform, tmp_path: Path
) -> None:
    await platform.start("routing", "integration", settings={"integration": {"analytics_dir": str(tmp_path)}})
    routing = platform.stub(RoutingServiceStub, role="admin")
    files = [
        routing_pb2.FlowSourceFile(name="triage/catalog.yaml", content=CATALOG),
        routing_pb2.FlowSourceFile(name="triage/triage.yaml", content=FLOW),
    ]
    published = await routing.PublishFlow(
        routing_pb2.PublishFlowRequest(tenant_id=TENANT, flow="triage", files=files)
    )
    await routing.SetFlowAlias(
        routing_pb2.SetFlowAliasRequest(
            tenant_id=TENANT, flow="triage", alias="live", version=published.version
        )
    )
    for contact, choice in (("j1", "1"), ("j2", "1"), ("j3", "2")):
        await routing.StartJourney(
            routing_pb2.StartJourneyRequest(
                tenant_id=TENANT, contact_id=contact, flow="triage", channel="chat"
            )
        )
        await routing.ContinueJourney(
            routing_pb2.ContinueJourneyRequest(tenant_id=TENANT, journey_id=contact, input=choice)
        )

    async def all_told() -> list[events_pb2.Event] | None:
        found = await ended_events(platform)
        return found if len(found) >= 3 else None

    found = await eventually(all_told)
    assert sorted(e.contact_id for e in found) == ["j1", "j2", "j3"]  # once each
    by_contact = {e.contact_id: e.journey_ended for e in found}
    assert list(by_contact["j1"].path) == ["greet", "ask", "route", "to-support"]
    assert (by_contact["j1"].outcome, by_contact["j1"].queue) == ("handed_off", "support")
    assert (by_contact["j3"].end_node, by_contact["j3"].outcome) == ("done", "completed")
    assert all(e.source == "routing" and e.journey_ended.alias == "live" for e in found)

    today = datetime.now(UTC).date()
    request = integration_pb2.GetJourneyReportRequest(
        tenant_id=TENANT,
        start=(today - timedelta(days=1)).isoformat(),
        end=(today + timedelta(days=2)).isoformat(),
    )
    reports = platform.stub(IntegrationServiceStub, role="supervisor")

    async def reported() -> integration_pb2.JourneyFlowReport | None:
        flows = (await reports.GetJourneyReport(request)).flows
        return flows[0] if flows and flows[0].journeys == 3 else None

    flow = await eventually(reported)
    assert (flow.flow, flow.version) == ("triage", published.version)
    assert dict(flow.outcomes) == {"handed_off": 2, "completed": 1}
    assert [(list(p.path), p.journeys) for p in flow.paths] == [
        (["greet", "ask", "route", "to-support"], 2),
        (["greet", "ask", "route", "done"], 1),
    ]
    assert [(d.node, d.outcome, d.journeys) for d in flow.drop_offs] == [
        ("to-support", "handed_off", 2),
        ("done", "completed", 1),
    ]
    assert flow.HasField("average_duration_seconds")

    agent = platform.stub(IntegrationServiceStub, role="agent")
    with pytest.raises(RpcError) as denied:
        await agent.GetJourneyReport(request)
    assert denied.value.code is grpc.StatusCode.PERMISSION_DENIED
    bad = integration_pb2.GetJourneyReportRequest(tenant_id=TENANT, start="yesterday", end=request.end)
    with pytest.raises(RpcError) as refused:
        await reports.GetJourneyReport(bad)
    assert refused.value.code is grpc.StatusCode.INVALID_ARGUMENT and "start:" in refused.value.message
