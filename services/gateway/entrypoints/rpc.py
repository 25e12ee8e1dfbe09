"""GatewayService: decode, check access, call one use case, encode."""

from __future__ import annotations

from typing import Any

import grpc

from ccmesh.access import AccessControl
from contactcenter.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from gateway.adapters.contact_store import StillProcessing
from gateway.domain.inbound import InboundMessage, validate
from gateway.entrypoints.handed_over_rpc import HandedOverHandlers
from gateway.service_layer.accept_inbound import AcceptInbound
from gateway.service_layer.handed_over import HandedOverContacts

#: Channel providers that are not served by a named webhook submit through this API.
SUBMIT_ROLES = frozenset({"admin", "integration"})


class GatewayServicer(HandedOverHandlers, gateway_pb2_grpc.GatewayServiceServicer):
    def __init__(
        self, access: AccessControl, *, accept: AcceptInbound, handed_over: HandedOverContacts | None = None
    ) -> None:
        self._access = access
        # Follow-the-sun: contacts homed here, served to another region's agents.
        self._handed_over = handed_over
        # The one inbound use case, bound in bootstrap (shared with the webhooks and HTTP API).
        self._accept = accept

    async def SubmitInboundMessage(
        self, request: gateway_pb2.SubmitInboundMessageRequest, context: Any
    ) -> gateway_pb2.SubmitInboundMessageResponse:
        await self._access.require(context, request.tenant.tenant_id, SUBMIT_ROLES)
        message = InboundMessage(
            tenant_id=request.tenant.tenant_id,
            brand_id=request.tenant.brand_id,
            channel=request.channel,
            from_kind=getattr(request, "from").kind,
            from_value=getattr(request, "from").value,
            entry_point=request.entry_point,
            text=request.text,
            provider_message_id=request.provider_message_id,
        )
        problems = validate(message)
        if problems:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "; ".join(problems))
        try:
            accepted, duplicate = await self._accept(message)
        except StillProcessing as error:
            await context.abort(grpc.StatusCode.ABORTED, f"{error}; retry shortly")
        return gateway_pb2.SubmitInboundMessageResponse(
            contact_id=accepted.contact_id,
            message_id=accepted.message_id,
            customer_id=accepted.customer_id,
            duplicate=duplicate,
            contact_created=accepted.contact_created and not duplicate,
        )
