"""GetReport and ExportContacts: check the caller, call the report use case, encode its rows."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import grpc

from ccmesh.access import AccessControl
from ccmesh.status import RpcError
from contactcenter.integration.v1 import integration_pb2
from integration.domain.analytics_facts import ContactFact
from integration.domain.analytics_metrics import ReportRow
from integration.domain.analytics_query import ReportError
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
        rows=[report_row(row) for row in rows],
        time_zone=request.time_zone or "UTC",
        interval=request.interval or "hour",
    )


def exported_contact(fact: ContactFact) -> integration_pb2.ExportedContact:
    # Who the customer is stays in the region's store: business systems get the contact, not them.
    contact = integration_pb2.ExportedContact(
        contact_id=fact.contact_id,
        brand=fact.brand,
        channel=fact.channel,
        queue=fact.queue,
        final_queue=fact.final_queue,
        agent=fact.agent,
        language=fact.language,
        intent=fact.intent,
        outcome=fact.outcome,
        created_at=fact.created_at,
        queued_at=fact.queued_at,
        answered_at=fact.answered_at,
        closed_at=fact.closed_at,
        wait_seconds=fact.wait_seconds,
        handle_seconds=fact.handle_seconds,
        acw_seconds=fact.acw_seconds,
        abandon_seconds=fact.abandon_seconds,
        transfers=fact.transfers,
        answered=fact.answered,
        abandoned=fact.abandoned,
    )
    if fact.sentiment_count:
        contact.sentiment = fact.sentiment_sum / fact.sentiment_count
    return contact


async def export_contacts(
    access: AccessControl,
    reports: Reports | None,
    request: integration_pb2.ExportContactsRequest,
    context: Any,
) -> integration_pb2.ExportContactsResponse:
    caller = await access.require(context, request.tenant_id, REPORT_ROLES)
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
        contacts=[exported_contact(fact) for fact in facts], next_page_token=next_page_token
    )
