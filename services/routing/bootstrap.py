"""Wire the routing service's parts from the runtime."""

from __future__ import annotations

from ccmesh.service_host import Runtime, ServiceParts
from contactcenter.routing.v1 import routing_pb2, routing_pb2_grpc
from routing.config import RoutingConfig
from routing.entrypoints.rpc import RoutingServicer


async def build(runtime: Runtime[RoutingConfig]) -> ServiceParts:
    servicer = RoutingServicer(runtime.access)
    return ServiceParts(
        servicers=[
            (
                servicer,
                routing_pb2.DESCRIPTOR.services_by_name["RoutingService"],
                routing_pb2_grpc.add_RoutingServiceServicer_to_server,
            )
        ]
    )
