"""Queued callbacks' RPC of RoutingService: a call-back request cancelled through the API."""

from __future__ import annotations

from typing import Any

import grpc

from ccmesh import channels
from ccmesh.access import AccessControl
from contactcenter.routing.v1 import routing_pb2
from routing.adapters.acd_store import UnknownKey
from routing.domain.agents import AcdInputError
from routing.domain.callbacks import NotCancellable
from routing.service_layer.callbacks import CallbackRequests

#: Who may cancel for the customer: people of the tenant, and its own systems.
CANCEL_ROLES = frozenset({"admin", "supervisor", "integration"})
LIST_ROLES = frozenset({"admin", "supervisor"})
#: Who asks for the customer: the gateway (which holds the number to call) and admins.
REQUEST_ROLES = frozenset({"admin", "integration"})


class CallbackRpc:
    _access: AccessControl
    _callbacks: CallbackRequests | None

    async def CancelCallback(
        self, request: routing_pb2.CancelCallbackRequest, context: Any
    ) -> routing_pb2.CancelCallbackResponse:
        await self._access.require(context, request.tenant_id, CANCEL_ROLES)
        if self._callbacks is None:
            await context.abort(grpc.StatusCode.UNIMPLEMENTED, "this routing instance keeps no call backs")
        assert self._callbacks is not None
        if not request.contact_id:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "contact_id: required")
        try:
            record = await self._callbacks.cancel(request.tenant_id, request.contact_id, by="api")
        except NotCancellable as why:
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(why))
        except (AcdInputError, UnknownKey) as error:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
        return routing_pb2.CancelCallbackResponse(contact_id=request.contact_id, queue=record.contact.queue)

    async def RequestCallback(
        self, request: routing_pb2.RequestCallbackRequest, context: Any
    ) -> routing_pb2.RequestCallbackResponse:
        await self._access.require(context, request.tenant_id, REQUEST_ROLES)
        if self._callbacks is None:
            await context.abort(grpc.StatusCode.UNIMPLEMENTED, "this routing instance keeps no call backs")
        assert self._callbacks is not None
        if not request.contact_id:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "contact_id: required")
        try:
            record = await self._callbacks.request(request.tenant_id, request.contact_id)
        except (AcdInputError, UnknownKey) as error:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
        return routing_pb2.RequestCallbackResponse(
            contact_id=request.contact_id,
            scheduled=record is not None,
            queue=record.contact.queue if record is not None else "",
        )

    async def ListCallbacks(
        self, request: routing_pb2.ListCallbacksRequest, context: Any
    ) -> routing_pb2.ListCallbacksResponse:
        caller = await self._access.require(context, request.tenant_id, LIST_ROLES)
        if self._callbacks is None:
            await context.abort(grpc.StatusCode.UNIMPLEMENTED, "this routing instance keeps no call backs")
        assert self._callbacks is not None
        return routing_pb2.ListCallbacksResponse(
            callbacks=[
                routing_pb2.CallbackRequestStatus(
                    contact_id=state.contact_id,
                    queue=state.queue,
                    state=state.state,
                    agent_id=state.agent_id,
                    waiting_since=state.waiting_since,
                    channel=channels.to_kind(state.channel),  # type: ignore[arg-type]
                )
                for state in self._callbacks.open_requests(request.tenant_id)
                # A queue-scoped caller sees the call backs of its own queues only.
                if caller.may_see_queue(name=state.queue)
            ]
        )
