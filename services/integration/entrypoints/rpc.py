"""IntegrationService: decode, check access, call one use case, encode."""

from __future__ import annotations

from typing import Any

import grpc

from ccmesh.access import AccessControl
from contactcenter.integration.v1 import integration_pb2, integration_pb2_grpc
from integration.adapters.delivery_log import DeliveryLog

READ_ROLES = frozenset({"admin", "supervisor", "integration"})


class IntegrationServicer(integration_pb2_grpc.IntegrationServiceServicer):
    def __init__(self, access: AccessControl, log: DeliveryLog) -> None:
        self._access = access
        self._log = log

    async def ListContactEvents(
        self, request: integration_pb2.ListContactEventsRequest, context: Any
    ) -> integration_pb2.ListContactEventsResponse:
        await self._access.require(context, request.tenant_id, READ_ROLES)
        if not request.contact_id or "." in request.contact_id or "*" in request.contact_id:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "contact_id: required, a single token")
        events = await self._log.events(request.tenant_id, request.contact_id)
        return integration_pb2.ListContactEventsResponse(events=events)
