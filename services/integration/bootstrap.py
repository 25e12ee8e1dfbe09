"""Wire the integration service's parts from the runtime."""

from __future__ import annotations

from ccmesh import naming
from ccmesh.events import ConsumerSettings, DurableConsumer
from ccmesh.kv import ensure_bucket
from ccmesh.service_host import Runtime, ServiceParts
from contactcenter.integration.v1 import integration_pb2, integration_pb2_grpc
from integration.adapters.delivery_log import DeliveryLog
from integration.config import IntegrationConfig
from integration.entrypoints.events import EventIntake
from integration.entrypoints.rpc import IntegrationServicer


async def build(runtime: Runtime[IntegrationConfig]) -> ServiceParts:
    config = runtime.config
    bucket = await ensure_bucket(
        runtime.js,
        naming.integration_bucket(config.region),
        placement_tags=runtime.placement_tags,
        replicas=config.stream_replicas,
    )
    delivery_log = DeliveryLog(bucket)
    intake = DurableConsumer(
        runtime.js,
        config.region,
        # One durable per region: replicas of the integration service share it.
        ConsumerSettings(durable="integration", filter_subject=f"{naming.EVENT_PREFIX}.{config.region}.>"),
        EventIntake(delivery_log),
    )
    return ServiceParts(
        servicers=[
            (
                IntegrationServicer(runtime.access, delivery_log),
                integration_pb2.DESCRIPTOR.services_by_name["IntegrationService"],
                integration_pb2_grpc.add_IntegrationServiceServicer_to_server,
            )
        ],
        consumers=[intake],
    )
