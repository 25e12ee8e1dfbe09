"""GatewayService: decode, check access, call one use case, encode."""

from __future__ import annotations

from typing import Any

import grpc

from ccmesh.access import AccessControl
from ccmesh.events import EventPublisher
from contactcenter.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from gateway.adapters.contact_store import ContactStore, StillProcessing
from gateway.domain.inbound import InboundMessage, validate
from gateway.service_layer.accept_inbound import IdentityClient, accept_inbound
from gateway.service_layer.conversation import Conversations

#: Channel providers that are not served by a named webhook submit through this API.
SUBMIT_ROLES = frozenset({"admin", "integration"})


class GatewayServicer(gateway_pb2_grpc.GatewayServiceServicer):
    def __init__(
        self,
        access: AccessControl,
        *,
        region: str,
        store: ContactStore,
        identity: IdentityClient,
        events: EventPublisher,
        conversations: Conversations | None = None,
    ) -> None:
        self._access = access
        self._region = region
        self._store = store
        self._identity = identity
        self._events = events
        # Starts journeys and feeds waiting ones for messages from configured endpoints.
        self._conversations = conversations

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
            accepted, duplicate = await accept_inbound(
                message,
                region=self._region,
                store=self._store,
                identity=self._identity,
                events=self._events,
                conversations=self._conversations,
            )
        except StillProcessing as error:
            await context.abort(grpc.StatusCode.ABORTED, f"{error}; retry shortly")
        return gateway_pb2.SubmitInboundMessageResponse(
            contact_id=accepted.contact_id,
            message_id=accepted.message_id,
            customer_id=accepted.customer_id,
            duplicate=duplicate,
            contact_created=accepted.contact_created and not duplicate,
        )
