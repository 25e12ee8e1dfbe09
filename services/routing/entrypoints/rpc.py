"""RoutingService: decode, check access, call the domain, encode."""

from __future__ import annotations

from typing import Any

import grpc

from ccmesh.access import AccessControl
from contactcenter.routing.v1 import routing_pb2, routing_pb2_grpc
from routing.domain.erlang_c import QueueParameterError, forecast
from routing.entrypoints.acd_rpc import AcdRpc
from routing.entrypoints.callback_rpc import CallbackRpc
from routing.entrypoints.journeys_rpc import JourneyRpc
from routing.entrypoints.surge_rpc import SurgeRpc
from routing.service_layer.acd import AcdService
from routing.service_layer.callbacks import CallbackRequests
from routing.service_layer.journeys import JourneyService
from routing.service_layer.surge_guard import SurgeGuard

READ_ROLES = frozenset({"admin", "supervisor"})


class RoutingServicer(JourneyRpc, AcdRpc, SurgeRpc, CallbackRpc, routing_pb2_grpc.RoutingServiceServicer):
    def __init__(
        self,
        access: AccessControl,
        journeys: JourneyService,
        acd: AcdService | None = None,
        region: str = "",
        surge: SurgeGuard | None = None,
        callbacks: CallbackRequests | None = None,
    ) -> None:
        self._callbacks = callbacks
        self._access = access
        self._journeys = journeys
        self._acd = acd
        self._region = region
        self._surge = surge

    async def PredictServiceLevel(
        self, request: routing_pb2.PredictServiceLevelRequest, context: Any
    ) -> routing_pb2.PredictServiceLevelResponse:
        await self._access.require(context, request.tenant_id, READ_ROLES)
        try:
            result = forecast(
                request.arrivals_per_hour,
                request.average_handle_seconds,
                request.agents,
                request.target_answer_seconds,
            )
        except QueueParameterError as error:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
        return routing_pb2.PredictServiceLevelResponse(
            traffic_erlangs=result.traffic_erlangs,
            probability_of_waiting=result.probability_of_waiting,
            service_level=result.service_level,
            average_wait_seconds=result.average_wait_seconds,
            occupancy=result.occupancy,
        )
