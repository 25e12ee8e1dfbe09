"""GetReport and ExportContacts: check the caller, call the report use case, encode its rows."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from typing import Any

import grpc

from ccmesh.access import AccessControl
from ccmesh.policy_violations import PolicyCheck
from ccmesh.status import RpcError
from ccpolicy import Action, Situation
from contactcenter.integration.v1 import integration_pb2
from integration.domain.analytics_facts import ContactFact
from integration.domain.analytics_metrics import ReportRow
from integration.domain.analytics_query import ReportError
from integration.domain.curated_contact import curated
from integration.service_layer.analytics_reports import Reports

#: Reports are about people's work (agents' handle times): supervisors and admins only.
REPORT_ROLES = frozenset({"admin", "supervisor"})


def report_row(row: ReportRow) -> integration_pb2.ReportRow:
    # A metric with nothing to divide by stays unset (has_<metric> false), never a made-up 0.
    return integration_pb2.ReportRow(**{k: v for k, v in asdict(row).items() if v is not None})


async def get_report(
    access: AccessControl,
    reports: Reports | None,
    request: integration_pb2.GetReportRequest,
    context: Any,
) -> integration_pb2.GetReportResponse:
    caller = await access.require(context, request.tenant_id, REPORT_ROLES)
    if caller.queues and request.group_by != "queue":
        # A total over every queue would include the queues the caller may not see.
        await access.deny(
            context, caller, f"caller is limited to queue(s) {sorted(caller.queues)}: ask for group_by=queue"
        )
    if reports is None:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "this region keeps no analytics store")
        raise AssertionError("abort returned")  # pragma: no cover
    try:
        rows = await reports.report(
            tenant_id=request.tenant_id,
            start=request.start,
            end=request.end,
            interval=request.interval,
            group_by=request.group_by,
            time_zone=request.time_zone,
            service_level_seconds=request.service_level_seconds,
            fcr_days=request.fcr_days,
            brands=caller.brands,
        )
    except ReportError as error:
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
        raise
    except RpcError as error:
        await context.abort(
            grpc.StatusCode.UNAVAILABLE,
            f"the queues' service-level targets: {error.code.name}: {error.message}",
        )
        raise
    return integration_pb2.GetReportResponse(
        rows=[report_row(row) for row in rows if not caller.queues or row.group in caller.queues],
        time_zone=request.time_zone or "UTC",
        interval=request.interval or "hour",
    )


def exported_contact(fact: ContactFact) -> integration_pb2.ExportedContact:
    # Who the customer is stays in the region's store: business systems get the contact, not them.
    return integration_pb2.ExportedContact(contact_id=fact.contact_id, **curated(fact))


async def export_contacts(
    access: AccessControl,
    reports: Reports | None,
    request: integration_pb2.ExportContactsRequest,
    context: Any,
    policy: PolicyCheck | None = None,
) -> integration_pb2.ExportContactsResponse:
    caller = await access.require(context, request.tenant_id, REPORT_ROLES)
    if policy is not None:
        # The region's compliance rules may narrow who exports (e.g. admins and auditors only).
        decision = await policy.judge(
            Action.EXPORT,
            Situation(region=policy.region, role=caller.role),
            tenant_id=request.tenant_id,
            contact_id="export",
            actor=caller.subject,
            occurrence=uuid.uuid4().hex,
        )
        if not decision.allowed:
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, decision.message())
            raise AssertionError("abort returned")  # pragma: no cover
    if reports is None:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "this region keeps no analytics store")
        raise AssertionError("abort returned")  # pragma: no cover
    try:
        facts, next_page_token = await reports.export(
            tenant_id=request.tenant_id,
            start=request.start,
            end=request.end,
            time_zone=request.time_zone,
            page_size=request.page_size,
            page_token=request.page_token,
            brands=caller.brands,
        )
    except ReportError as error:
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
        raise
    return integration_pb2.ExportContactsResponse(
        contacts=[
            exported_contact(fact)
            for fact in facts
            # A queue-scoped caller exports the contacts its queues handled, no others.
            if caller.may_see_queue(name=fact.queue)
            or bool(fact.final_queue and caller.may_see_queue(name=fact.final_queue))
        ],
        next_page_token=next_page_token,
    )
