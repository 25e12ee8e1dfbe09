"""Wire the ai service's parts from the runtime."""

from __future__ import annotations

from ai.config import AiConfig
from ai.entrypoints.rpc import AiServicer
from ccmesh.service_host import Runtime, ServiceParts
from contactcenter.ai.v1 import ai_pb2, ai_pb2_grpc


async def build(runtime: Runtime[AiConfig]) -> ServiceParts:
    servicer = AiServicer(runtime.access)
    return ServiceParts(
        servicers=[
            (
                servicer,
                ai_pb2.DESCRIPTOR.services_by_name["AiService"],
                ai_pb2_grpc.add_AiServiceServicer_to_server,
            )
        ]
    )
