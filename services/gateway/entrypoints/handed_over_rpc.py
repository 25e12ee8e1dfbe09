"""GatewayService's follow-the-sun methods: another region's gateway asks about a contact homed here.

Only platform services call these (the service role): the receiving region's gateway has
already checked that its agent holds the contact; this region checks that the contact was
handed over to that region at all.
"""

from __future__ import annotations

from typing import Any

import grpc

from ccmesh.access import AccessControl
from contactcenter.gateway.v1 import gateway_pb2
from gateway.domain.handed_over import NotHandedOver
from gateway.service_layer.handed_over import HandedOverContacts

SERVICE_ONLY = frozenset({"service"})


class HandedOverHandlers:
    _access: AccessControl
    _handed_over: HandedOverContacts | None

    async def _home(self, context: Any, tenant_id: str) -> HandedOverContacts:
        await self._access.require(context, tenant_id, SERVICE_ONLY)
        if self._handed_over is None:
            await context.abort(grpc.StatusCode.UNIMPLEMENTED, "this gateway serves no handed-over contacts")
            raise AssertionError("abort returned")  # pragma: no cover
        return self._handed_over

    async def GetHandedOverContact(
        self, request: gateway_pb2.GetHandedOverContactRequest, context: Any
    ) -> gateway_pb2.GetHandedOverContactResponse:
        home = await self._home(context, request.tenant.tenant_id)
        try:
            view = await home.view(
                request.tenant.tenant_id, request.contact_id, request.requesting_region, request.agent_id
            )
        except NotHandedOver as error:
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, str(error))
        return gateway_pb2.GetHandedOverContactResponse(events=view.events, display_name=view.display_name)

    async def SendHandedOverReply(
        self, request: gateway_pb2.SendHandedOverReplyRequest, context: Any
    ) -> gateway_pb2.SendHandedOverReplyResponse:
        home = await self._home(context, request.tenant.tenant_id)
        try:
            message_id = await home.reply(
                request.tenant.tenant_id,
                request.contact_id,
                request.requesting_region,
                request.agent_id,
                request.text,
                request.message_id,
            )
        except ValueError as error:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
        except NotHandedOver as error:
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, str(error))
        return gateway_pb2.SendHandedOverReplyResponse(message_id=message_id)

    async def WrapUpHandedOverContact(
        self, request: gateway_pb2.WrapUpHandedOverContactRequest, context: Any
    ) -> gateway_pb2.WrapUpHandedOverContactResponse:
        home = await self._home(context, request.tenant.tenant_id)
        try:
            await home.wrap_up(
                request.tenant.tenant_id,
                request.contact_id,
                request.requesting_region,
                agent_id=request.agent_id,
                queue=request.queue,
                disposition=request.disposition,
                notes=request.notes,
                reservation_id=request.reservation_id,
            )
        except NotHandedOver as error:
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, str(error))
        return gateway_pb2.WrapUpHandedOverContactResponse()

    async def AcceptHandedOverContact(
        self, request: gateway_pb2.AcceptHandedOverContactRequest, context: Any
    ) -> gateway_pb2.AcceptHandedOverContactResponse:
        home = await self._home(context, request.tenant.tenant_id)
        try:
            await home.accepted(
                request.tenant.tenant_id,
                request.contact_id,
                request.requesting_region,
                agent_id=request.agent_id,
                queue=request.queue,
                reservation_id=request.reservation_id,
            )
        except ValueError as error:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
        except NotHandedOver as error:
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, str(error))
        return gateway_pb2.AcceptHandedOverContactResponse()
