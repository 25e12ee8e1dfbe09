"""`GET /v1/tenants/{tenant}/reports`: contact-center metrics of a period, for the reports page.

    GET /v1/tenants/acme/reports?start=2026-03-29&end=2026-03-30&interval=hour&by=queue
        &timeZone=Europe/Berlin[&serviceLevelSeconds=20&fcrDays=7]

Bearer token of a supervisor or admin of the tenant. The gateway checks the caller, then asks
this region's integration service (GetReport) with the caller's own token, so a brand-scoped
supervisor sees only their brands and the report never leaves the region whose store holds it.
A bad parameter is a 400 naming it (`{"error": {"code": "INVALID_ARGUMENT", "message":
"interval: unknown 'week'; one of 15m, hour, day"}}`).
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from ccmesh.access import AccessControl
from ccmesh.auth import bearer_token
from ccmesh.status import RpcError
from gateway.entrypoints.edge_admission import admit_verified, verifies_caller
from gateway.entrypoints.edge_middleware import EdgeError
from gateway.entrypoints.http import HttpCallContext, RouteAdder
from gateway.entrypoints.inbound_port import rpc_failure
from gateway.service_layer.analytics_report_view import (
    BadReportParameter,
    ReportReader,
    read_report,
    report_request,
)

#: Reports are about people's work (agents' handle times): supervisors and admins only.
REPORT_ROLES = frozenset({"admin", "supervisor"})

#: The integration service's stub, calling with the given bearer token.
ReportsAs = Callable[[str], ReportReader]


def report_routes(access: AccessControl, reports_as: ReportsAs) -> RouteAdder:
    @verifies_caller
    async def report(request: web.Request) -> web.Response:
        tenant_id = request.match_info["tenant"]
        try:
            await access.require(HttpCallContext(request), tenant_id, REPORT_ROLES)
            admit_verified(request)
            asked = report_request(tenant_id, request.query)
            token = bearer_token((key.lower(), value) for key, value in request.headers.items()) or ""
            return web.json_response(await read_report(reports_as(token), asked))
        except BadReportParameter as error:
            raise EdgeError(400, "INVALID_ARGUMENT", str(error)) from None
        except RpcError as error:
            raise rpc_failure(error) from None

    def add(app: web.Application) -> None:
        app.router.add_get("/v1/tenants/{tenant}/reports", report)

    return add
