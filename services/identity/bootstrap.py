"""Wire the identity service's parts from the runtime."""

from __future__ import annotations

from ccmesh import naming
from ccmesh.kv import ensure_bucket
from ccmesh.service_host import Runtime, ServiceParts
from contactcenter.identity.v1 import identity_pb2, identity_pb2_grpc
from identity.adapters.profile_store import ProfileStore
from identity.config import IdentityConfig
from identity.entrypoints.rpc import IdentityServicer


async def build(runtime: Runtime[IdentityConfig]) -> ServiceParts:
    config = runtime.config
    bucket = await ensure_bucket(
        runtime.js,
        naming.identity_bucket(config.region),
        placement_tags=runtime.placement_tags,
        replicas=config.stream_replicas,
    )
    servicer = IdentityServicer(runtime.access, ProfileStore(bucket), config.region, runtime.tenant)
    return ServiceParts(
        servicers=[
            (
                servicer,
                identity_pb2.DESCRIPTOR.services_by_name["IdentityService"],
                identity_pb2_grpc.add_IdentityServiceServicer_to_server,
            )
        ]
    )
