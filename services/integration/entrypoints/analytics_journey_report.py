"""GetJourneyReport: check the caller as GetReport does, call the journey report, encode it."""

from __future__ import annotations

from typing import Any

import grpc

from ccmesh.access import AccessControl
from contactcenter.integration.v1 import integration_pb2
from integration.domain.analytics_journey_paths import FlowJourneys
from integration.domain.analytics_query import ReportError
from integration.entrypoints.report import REPORT_ROLES
from integration.service_layer.analytics_journey_paths import JourneyReports


def flow_report(flow: FlowJourneys) -> integration_pb2.JourneyFlowReport:
    report = integration_pb2.JourneyFlowReport(
        flow=flow.flow,
        version=flow.version,
        journeys=flow.journeys,
        outcomes=dict(flow.outcomes),
        paths=[
            integration_pb2.JourneyPathCount(path=list(p.nodes), journeys=p.journeys, truncated=p.truncated)
            for p in flow.paths
        ],
        drop_offs=[
            integration_pb2.JourneyDropOff(node=d.node, outcome=d.outcome, journeys=d.journeys)
            for d in flow.drop_offs
        ],
    )
    if flow.average_duration_seconds is not None:
        report.average_duration_seconds = flow.average_duration_seconds
    return report


async def get_journey_report(
    access: AccessControl,
    reports: JourneyReports | None,
    request: integration_pb2.GetJourneyReportRequest,
    context: Any,
) -> integration_pb2.GetJourneyReportResponse:
    caller = await access.require(context, request.tenant_id, REPORT_ROLES)
    if caller.queues:
        # Journeys run before (and besides) any queue: their totals are not one queue's to see.
        await access.deny(context, caller, f"caller is limited to queue(s) {sorted(caller.queues)}")
    if reports is None:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "this region keeps no analytics store")
        raise AssertionError("abort returned")  # pragma: no cover
    try:
        flows = await reports.report(
            tenant_id=request.tenant_id,
            start=request.start,
            end=request.end,
            time_zone=request.time_zone,
            flow=request.flow,
            top_paths=request.top_paths,
            brands=caller.brands,
        )
    except ReportError as error:
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
        raise
    return integration_pb2.GetJourneyReportResponse(flows=[flow_report(flow) for flow in flows])
