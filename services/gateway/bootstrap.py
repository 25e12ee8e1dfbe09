"""Wire the gateway's parts from the runtime."""

from __future__ import annotations

from ccmesh import naming
from ccmesh.kv import ensure_bucket
from ccmesh.rpc_client import mesh_stub
from ccmesh.service_host import Runtime, ServiceParts
from contactcenter.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from contactcenter.identity.v1 import identity_pb2_grpc
from gateway.adapters.contact_store import ContactStore
from gateway.config import GatewayConfig
from gateway.entrypoints.rpc import GatewayServicer


async def build(runtime: Runtime[GatewayConfig]) -> ServiceParts:
    config = runtime.config
    bucket = await ensure_bucket(
        runtime.js,
        naming.gateway_bucket(config.region),
        placement_tags=runtime.placement_tags,
        replicas=config.stream_replicas,
    )
    servicer = GatewayServicer(
        runtime.access,
        region=config.region,
        store=ContactStore(bucket),
        identity=mesh_stub(identity_pb2_grpc.IdentityServiceStub, runtime.channel),
        events=runtime.events,
    )
    return ServiceParts(
        servicers=[
            (
                servicer,
                gateway_pb2.DESCRIPTOR.services_by_name["GatewayService"],
                gateway_pb2_grpc.add_GatewayServiceServicer_to_server,
            )
        ]
    )
